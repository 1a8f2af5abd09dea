//! Network methods on `Var`: products, softmax, convolution and pooling,
//! dropout and the fused per-sample losses (see [`crate::ops`]).

use crate::error::Result;
use crate::ops;
use crate::var::Var;
use neurite_rand::Generator;
use neurite_tensor::{Conv2dParams, Pool2dParams};

impl Var {
    /// [`ops::matmul`]: the matrix product `self · other`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
    /// let w = Var::parameter(ndarray::arr2(&[[3.0f32], [4.0]]).into_dyn());
    /// let loss = x.matmul(&w)?.relu()?.mean_all()?;
    /// assert_eq!(loss.item()?, 11.0);
    /// assert!(x.matmul(&x).is_err()); // (1, 2) · (1, 2)
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        ops::matmul(self, other)
    }

    /// [`ops::batched_matmul`]: one matrix product per leading index.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// let a = Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
    /// let b = Var::from_array(ndarray::Array3::<f32>::ones((2, 4, 5)));
    /// assert_eq!(a.batched_matmul(&b)?.shape(), vec![2, 3, 5]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn batched_matmul(&self, other: &Var) -> Result<Var> {
        ops::batched_matmul(self, other)
    }

    /// [`ops::softmax`] along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[0.0f32, 0.0]]));
    /// assert_eq!(x.softmax(1)?.to_tensor(), ndarray::arr2(&[[0.5f32, 0.5]]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn softmax(&self, axis: usize) -> Result<Var> {
        ops::softmax(self, axis)
    }

    /// [`ops::log_softmax`] along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[0.0f32, 0.0]]));
    /// assert!((x.log_softmax(1)?.to_tensor()[[0, 0]] + 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn log_softmax(&self, axis: usize) -> Result<Var> {
        ops::log_softmax(self, axis)
    }

    /// [`ops::conv2d`] of this NHWC batch with `kernel` (HWIO) and an optional bias.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_tensor::Conv2dParams;
    /// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 3, 3, 1)));
    /// let k = Var::parameter(ndarray::Array4::<f32>::ones((2, 2, 1, 1)).into_dyn());
    /// assert_eq!(x.conv2d(&k, None, &Conv2dParams::default())?.shape(), vec![1, 2, 2, 1]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn conv2d(&self, kernel: &Var, bias: Option<&Var>, params: &Conv2dParams) -> Result<Var> {
        ops::conv2d(self, kernel, bias, params)
    }

    /// [`ops::conv2d_relu`]: [`Var::conv2d`] followed by ReLU in one node.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_tensor::Conv2dParams;
    /// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 2, 2, 1)));
    /// let k = Var::parameter(ndarray::Array4::from_elem((1, 1, 1, 1), -1.0f32).into_dyn());
    /// assert_eq!(x.conv2d_relu(&k, None, &Conv2dParams::default())?.sum_all()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn conv2d_relu(&self, kernel: &Var, bias: Option<&Var>, params: &Conv2dParams) -> Result<Var> {
        ops::conv2d_relu(self, kernel, bias, params)
    }

    /// [`ops::conv2d_relu_max_pool2d`]: convolution, ReLU and max pooling in one node.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_tensor::{Conv2dParams, Pool2dParams};
    /// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 4, 4, 1)));
    /// let k = Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 1, 1)).into_dyn());
    /// let y = x.conv2d_relu_max_pool2d(&k, None, &Conv2dParams::default(), &Pool2dParams::new((2, 2)))?;
    /// assert_eq!(y.shape(), vec![1, 2, 2, 1]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn conv2d_relu_max_pool2d(
        &self,
        kernel: &Var,
        bias: Option<&Var>,
        conv: &Conv2dParams,
        pool: &Pool2dParams,
    ) -> Result<Var> {
        ops::conv2d_relu_max_pool2d(self, kernel, bias, conv, pool)
    }

    /// [`ops::max_pool2d`] of this NHWC batch.
    ///
    /// ```
    /// use neurite_tensor::Pool2dParams;
    /// let x = neurite_autograd::Var::from_array(ndarray::Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap());
    /// assert_eq!(x.max_pool2d(&Pool2dParams::new((2, 2)))?.item()?, 5.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn max_pool2d(&self, params: &Pool2dParams) -> Result<Var> {
        ops::max_pool2d(self, params)
    }

    /// [`ops::avg_pool2d`] of this NHWC batch.
    ///
    /// ```
    /// use neurite_tensor::Pool2dParams;
    /// let x = neurite_autograd::Var::from_array(ndarray::Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap());
    /// assert_eq!(x.avg_pool2d(&Pool2dParams::new((2, 2)))?.item()?, 2.75);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn avg_pool2d(&self, params: &Pool2dParams) -> Result<Var> {
        ops::avg_pool2d(self, params)
    }

    /// [`ops::global_avg_pool2d`]: `(n, h, w, c) -> (n, c)` by the mean.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap());
    /// assert_eq!(x.global_avg_pool2d()?.item()?, 2.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn global_avg_pool2d(&self) -> Result<Var> {
        ops::global_avg_pool2d(self)
    }

    /// [`ops::global_max_pool2d`]: `(n, h, w, c) -> (n, c)` by the maximum.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap());
    /// assert_eq!(x.global_max_pool2d()?.item()?, 3.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn global_max_pool2d(&self) -> Result<Var> {
        ops::global_max_pool2d(self)
    }

    /// [`ops::dropout`]: zeroes each element with probability `rate` and
    /// scales the others by `1 / (1 - rate)` (training only).
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let x = neurite_autograd::Var::from_array(ndarray::Array1::<f32>::ones(100));
    /// let y = x.dropout(0.5, &mut neurite_rand::Generator::seed_from_u64(1))?;
    /// assert!(y.value().iter().all(|&v| v == 0.0 || v == 2.0));
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn dropout(&self, rate: f32, rng: &mut Generator) -> Result<Var> {
        ops::dropout(self, rate, rng)
    }

    /// [`ops::softmax_cross_entropy`] of these logits against target
    /// probabilities: one loss per sample.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// let logits = Var::from_array(ndarray::arr2(&[[0.0f32, 0.0]]));
    /// let t = Var::from_array(ndarray::arr2(&[[1.0f32, 0.0]]));
    /// assert!((logits.softmax_cross_entropy(&t)?.mean_all()?.item()? - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn softmax_cross_entropy(&self, targets: &Var) -> Result<Var> {
        ops::softmax_cross_entropy(self, targets)
    }

    /// [`ops::sparse_softmax_cross_entropy`] of these logits against class
    /// indices: one loss per sample.
    ///
    /// ```
    /// let logits = neurite_autograd::Var::from_array(ndarray::arr2(&[[0.0f32, 0.0, 0.0]]));
    /// assert!((logits.sparse_softmax_cross_entropy(&[1])?.item()? - 3f32.ln()).abs() < 1e-6);
    /// assert!(logits.sparse_softmax_cross_entropy(&[3]).is_err());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sparse_softmax_cross_entropy(&self, labels: &[usize]) -> Result<Var> {
        ops::sparse_softmax_cross_entropy(self, labels)
    }

    /// [`ops::sigmoid_binary_cross_entropy`] of these logits against
    /// targets in `[0, 1]`: one loss per element.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// let logits = Var::from_array(ndarray::arr2(&[[0.0f32]]));
    /// let t = Var::from_array(ndarray::arr2(&[[1.0f32]]));
    /// assert!((logits.sigmoid_binary_cross_entropy(&t)?.sum_all()?.item()? - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sigmoid_binary_cross_entropy(&self, targets: &Var) -> Result<Var> {
        ops::sigmoid_binary_cross_entropy(self, targets)
    }
}
