//! `MultiHeadAttention`, Keras 3's layer: four einsum-dense projections in
//! Keras' weight layouts around one fused attention node
//! ([`neurite_autograd::ops::scaled_dot_product_attention`]).

mod config;
mod masks;
mod projection;

pub use config::MultiHeadAttentionConfig;
pub use masks::AttentionMasks;
pub(crate) use projection::einsum_dense;

use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{single_input_error, InputArity, Layer, Parameter, ParameterShapes};
use crate::layers::{regularize, shape_error};
use crate::regularizers::Regularizer;
use neurite_autograd::ops::{self, AttentionOptions};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// Keras' per-call arguments of [`MultiHeadAttention::attend`].
///
/// ```
/// let call = neurite_nn::layers::AttentionCall::default();
/// assert!(call.attention_mask.is_none() && !call.use_causal_mask && !call.return_attention_scores);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionCall<'a> {
    /// A 0/1 mask `(batch, Tq, Tk)` (axes of size 1 broadcast, as Keras);
    /// 0 hides key `j` from query `i`.
    pub attention_mask: Option<&'a Tensor>,
    /// Hide keys after each query's position (or-ed with the layer's `use_causal_mask`).
    pub use_causal_mask: bool,
    /// Also return the attention probabilities `(batch, heads, Tq, Tk)`.
    pub return_attention_scores: bool,
}

/// A projection's kernel and optional bias.
#[derive(Debug, Clone)]
struct Dense3 {
    kernel: Var,
    bias: Option<Var>,
}

/// The shapes a call works on (without the batch axis).
struct Plan {
    tq: usize,
    tk: usize,
    out_shape: Vec<usize>,
    vars: ParameterShapes,
}

/// Keras 3's `MultiHeadAttention(num_heads, key_dim, value_dim, dropout,
/// use_bias, output_shape, ...)` on `(batch, T, dim)` inputs.
///
/// Called on `[query, value]`, `[query, value, key]` or `[query, value,
/// key, attention_mask]` ([`Layer::forward_multi`], which functional graphs
/// use: `mha.call_many(&[&q, &v])`), or through [`MultiHeadAttention::attend`]
/// with Keras' call arguments. The query, key and value are projected to
/// `(batch, T, num_heads, key_dim | value_dim)`, attention runs per head
/// with scores scaled by `1/sqrt(key_dim)` (masked pairs get −1e9 before the
/// softmax, as Keras), the probabilities are dropped out in training, and
/// the heads are projected to `output_shape` (default: the query's last
/// dimension).
///
/// Variables (Keras' EinsumDense layouts and order):
/// `<name>/query.kernel` `(query_dim, heads, key_dim)`, `<name>/query.bias`
/// `(heads, key_dim)`, `<name>/key.kernel` `(key_input_dim, heads, key_dim)`,
/// `<name>/key.bias`, `<name>/value.kernel` `(value_input_dim, heads,
/// value_dim)`, `<name>/value.bias` `(heads, value_dim)`,
/// `<name>/attention_output.kernel` `(heads, value_dim, *output_shape)` and
/// `<name>/attention_output.bias` `(*output_shape)`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{AttentionCall, MultiHeadAttention};
/// use neurite_nn::{ForwardContext, Layer};
/// let mut mha = MultiHeadAttention::new(2, 4);
/// mha.build_multi(&[vec![5, 8], vec![7, 6]], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let q = Var::from_array(ndarray::Array3::<f32>::ones((3, 5, 8)));
/// let v = Var::from_array(ndarray::Array3::<f32>::ones((3, 7, 6)));
/// let y = mha.forward_multi(&[q.clone(), v.clone()], &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![3, 5, 8]);
/// let call = AttentionCall { use_causal_mask: true, return_attention_scores: true, ..Default::default() };
/// let (_, scores) = mha.attend(&q, &v, None, call, &mut ForwardContext::inference())?;
/// assert_eq!(scores.unwrap().shape(), &[3, 2, 5, 7]);
/// assert!(mha.forward(&q, &mut ForwardContext::inference()).is_err()); // needs [query, value]
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    cfg: MultiHeadAttentionConfig,
    /// query, key, value, attention_output (after build).
    weights: Option<[Dense3; 4]>,
    /// The sample shapes it was built for: query, value, key.
    built_for: Vec<Vec<usize>>,
}

const PROJECTIONS: [&str; 4] = ["query", "key", "value", "attention_output"];

impl MultiHeadAttention {
    const ARITY: InputArity = InputArity::AtLeast(2);

    /// A layer with `num_heads` heads of size `key_dim` and Keras' defaults
    /// (value_dim = key_dim, no dropout, biases, glorot_uniform kernels),
    /// named `"multi_head_attention"`.
    ///
    /// ```
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 32);
    /// assert_eq!((m.config_struct().num_heads, m.config_struct().key_dim), (2, 32));
    /// ```
    pub fn new(num_heads: usize, key_dim: usize) -> Self {
        Self::from_config(MultiHeadAttentionConfig {
            name: "multi_head_attention".into(),
            num_heads,
            key_dim,
            value_dim: None,
            dropout: 0.0,
            use_bias: true,
            output_shape: None,
            attention_axes: None,
            sliding_window: None,
            use_gate: false,
            flash_attention: None,
            use_causal_mask: false,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            seed: None,
            trainable: true,
        })
    }

    /// The layer from its configuration (unbuilt; checked when built).
    ///
    /// ```
    /// use neurite_nn::layers::MultiHeadAttention;
    /// let m = MultiHeadAttention::new(4, 16).value_dim(8);
    /// assert_eq!(MultiHeadAttention::from_config(m.config_struct().clone()).config_struct(), m.config_struct());
    /// ```
    pub fn from_config(cfg: MultiHeadAttentionConfig) -> Self {
        MultiHeadAttention {
            cfg,
            weights: None,
            built_for: Vec::new(),
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::MultiHeadAttention::new(2, 4).config_struct().dropout, 0.0);
    /// ```
    pub fn config_struct(&self) -> &MultiHeadAttentionConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::MultiHeadAttention::new(2, 4).with_name("att").name(), "att");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the value head size.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::MultiHeadAttention::new(2, 4).value_dim(3).config_struct().value_dim(), 3);
    /// ```
    pub fn value_dim(mut self, value_dim: usize) -> Self {
        self.cfg.value_dim = Some(value_dim);
        self
    }

    /// Sets the dropout rate on the attention probabilities.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::MultiHeadAttention::new(2, 4).dropout(0.1).config_struct().dropout, 0.1);
    /// ```
    pub fn dropout(mut self, rate: f32) -> Self {
        self.cfg.dropout = rate;
        self
    }

    /// Whether the projections have biases.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::MultiHeadAttention::new(2, 4).use_bias(false).config_struct().use_bias);
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.cfg.use_bias = use_bias;
        self
    }

    /// Sets the output's feature shape (default: the query's last dimension).
    ///
    /// ```
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).output_shape([10]);
    /// assert_eq!(m.config_struct().output_shape, Some(vec![10]));
    /// ```
    pub fn output_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.output_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Applies the causal mask on every call (see [`MultiHeadAttentionConfig::use_causal_mask`]).
    ///
    /// ```
    /// assert!(neurite_nn::layers::MultiHeadAttention::new(2, 4).use_causal_mask(true).config_struct().use_causal_mask);
    /// ```
    pub fn use_causal_mask(mut self, causal: bool) -> Self {
        self.cfg.use_causal_mask = causal;
        self
    }

    /// Sets the kernels' initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).kernel_initializer(Initializer::Ones);
    /// assert_eq!(m.config_struct().kernel_initializer, Initializer::Ones);
    /// ```
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.cfg.kernel_initializer = init;
        self
    }

    /// Sets the biases' initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).bias_initializer(Initializer::Ones);
    /// assert_eq!(m.config_struct().bias_initializer, Initializer::Ones);
    /// ```
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.cfg.bias_initializer = init;
        self
    }

    /// Sets the penalty on each kernel.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).kernel_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(m.config_struct().kernel_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn kernel_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.kernel_regularizer = Some(reg);
        self
    }

    /// Sets the penalty on each bias.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).bias_regularizer(Regularizer::l1(0.1));
    /// assert_eq!(m.config_struct().bias_regularizer, Some(Regularizer::l1(0.1)));
    /// ```
    pub fn bias_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.bias_regularizer = Some(reg);
        self
    }

    /// Sets the penalty on the output.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 4).activity_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(m.config_struct().activity_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn activity_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.activity_regularizer = Some(reg);
        self
    }

    fn count_error(&self, count: usize) -> NnError {
        NnError::Config {
            layer: self.cfg.name.clone(),
            message: format!(
                "MultiHeadAttention takes [query, value], [query, value, key] or [query, value, key, attention_mask], got a list of {count} inputs"
            ),
        }
    }

    fn shape_err(&self, expected: impl Into<String>, found: &[usize]) -> NnError {
        shape_error(&self.cfg.name, expected, found)
    }

    /// Checks `[query, value, key?, mask?]` sample shapes and lists the variables.
    fn plan(&self, shapes: &[Vec<usize>]) -> Result<Plan> {
        let cfg = &self.cfg;
        cfg.validate()?;
        if !(2..=4).contains(&shapes.len()) {
            return Err(self.count_error(shapes.len()));
        }
        let seq = |what: &str, s: &[usize]| -> Result<(usize, usize)> {
            match s {
                [t, d] if *t > 0 && *d > 0 => Ok((*t, *d)),
                _ => Err(self.shape_err(format!("a {what} of shape (batch, T >= 1, dim >= 1)"), s)),
            }
        };
        let (tq, dq) = seq("query", &shapes[0])?;
        let (tv, dv_in) = seq("value", &shapes[1])?;
        let (tk, dk_in) = match shapes.get(2) {
            Some(k) => seq("key", k)?,
            None => (tv, dv_in),
        };
        if tk != tv {
            return Err(self.shape_err(
                format!(
                    "a key with the value's sequence length {tv} (value {:?})",
                    shapes[1]
                ),
                &shapes[2],
            ));
        }
        if let Some(m) = shapes.get(3) {
            let fits = m.len() == 2 && (m[0] == 1 || m[0] == tq) && (m[1] == 1 || m[1] == tk);
            if !fits {
                return Err(self.shape_err(
                    format!("an attention_mask of shape (batch, {tq} or 1, {tk} or 1)"),
                    m,
                ));
            }
        }
        let (h, kd, vd) = (cfg.num_heads, cfg.key_dim, cfg.value_dim());
        let out_shape = cfg.output_shape.clone().unwrap_or_else(|| vec![dq]);
        let mut out_kernel = vec![h, vd];
        out_kernel.extend_from_slice(&out_shape);
        let kernels = [
            vec![dq, h, kd],
            vec![dk_in, h, kd],
            vec![dv_in, h, vd],
            out_kernel,
        ];
        let biases = [vec![h, kd], vec![h, kd], vec![h, vd], out_shape.clone()];
        let mut vars = Vec::new();
        for ((k, b), p) in kernels.into_iter().zip(biases).zip(PROJECTIONS) {
            let mut own = vec![("kernel", k)];
            if cfg.use_bias {
                own.push(("bias", b));
            }
            vars.extend(crate::checks::variables(&format!("{}/{p}", cfg.name), own)?);
        }
        for (_, s) in &vars {
            crate::checks::product(&cfg.name, "a weight", s)?;
        }
        Ok(Plan {
            tq,
            tk,
            out_shape,
            vars,
        })
    }

    /// Keras' `call(query, value, key=None, attention_mask=None,
    /// return_attention_scores=False, use_causal_mask=False)`: the output
    /// `(batch, Tq, *output_shape)` and, when asked, the attention
    /// probabilities `(batch, heads, Tq, Tk)` before dropout (a plain tensor).
    /// Errors name the layer when it is not built or a shape (inputs, mask)
    /// does not fit.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::{AttentionCall, MultiHeadAttention};
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut mha = MultiHeadAttention::new(1, 2);
    /// mha.build_multi(&[vec![3, 4], vec![3, 4]], &mut neurite_tensor::random::rng_from_seed(1))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
    /// let mask = ndarray::Array3::<f32>::from_elem((2, 3, 3), 1.0).into_dyn();
    /// let call = AttentionCall { attention_mask: Some(&mask), return_attention_scores: true, ..Default::default() };
    /// let (y, p) = mha.attend(&x, &x, None, call, &mut ForwardContext::inference())?;
    /// assert_eq!((y.shape(), p.unwrap().shape().to_vec()), (vec![2, 3, 4], vec![2, 1, 3, 3]));
    /// let bad = ndarray::Array3::<f32>::ones((2, 3, 5)).into_dyn();
    /// let call = AttentionCall { attention_mask: Some(&bad), ..Default::default() };
    /// assert!(mha.attend(&x, &x, None, call, &mut ForwardContext::inference()).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn attend(
        &self,
        query: &Var,
        value: &Var,
        key: Option<&Var>,
        call: AttentionCall<'_>,
        ctx: &mut ForwardContext,
    ) -> Result<(Var, Option<Tensor>)> {
        self.attend_masked(query, value, key, call, AttentionMasks::default(), ctx)
    }

    /// [`MultiHeadAttention::attend`] with the Keras masks of the query,
    /// value and key (what a masked input brings, Keras'
    /// `_compute_attention_mask`): query `i` may attend to key `j` when the
    /// query mask allows `i`, the value and key masks allow `j`, and the
    /// explicit and causal masks allow `(i, j)`. A query that may attend to
    /// no key gets zero attention (Keras 3 zeroes such softmax rows), so its
    /// output is the output projection's bias.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::{AttentionCall, AttentionMasks, MultiHeadAttention};
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut mha = MultiHeadAttention::new(1, 2);
    /// mha.build_multi(&[vec![3, 4], vec![3, 4]], &mut neurite_tensor::random::rng_from_seed(1))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 3, 4)));
    /// let m = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let masks = AttentionMasks { query: Some(&m), value: Some(&m), key: None };
    /// let (_, p) = mha.attend_masked(&x, &x, None, AttentionCall { return_attention_scores: true, ..Default::default() }, masks, &mut ForwardContext::inference())?;
    /// let p = p.unwrap();
    /// assert_eq!(p[[0, 0, 0, 2]], 0.0); // the masked value is never attended to
    /// assert!(p.slice(ndarray::s![0, 0, 2, ..]).iter().all(|&v| v == 0.0)); // nor does the masked query attend
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn attend_masked(
        &self,
        query: &Var,
        value: &Var,
        key: Option<&Var>,
        call: AttentionCall<'_>,
        masks: AttentionMasks<'_>,
        ctx: &mut ForwardContext,
    ) -> Result<(Var, Option<Tensor>)> {
        let cfg = &self.cfg;
        let Some(w) = &self.weights else {
            return Err(NnError::NotBuilt(cfg.name.clone()));
        };
        let key_given = key.is_some();
        let key = key.unwrap_or(value);
        let (qs, vs, ks) = (query.shape(), value.shape(), key.shape());
        for (what, s) in [("query", &qs), ("value", &vs), ("key", &ks)] {
            if s.len() != 3 {
                return Err(self.shape_err(format!("a {what} of shape (batch, T, dim)"), s));
            }
        }
        if vs[0] != qs[0] || ks[0] != qs[0] {
            return Err(self.shape_err(
                format!("query, value and key with the same batch size (query {qs:?}, value {vs:?})"),
                &ks,
            ));
        }
        let mut shapes = vec![qs[1..].to_vec(), vs[1..].to_vec(), ks[1..].to_vec()];
        if let Some(m) = call.attention_mask {
            let m3: Vec<usize> = match m.shape() {
                [a, b, c] if *a == 1 || *a == qs[0] => vec![*b, *c],
                other => {
                    return Err(self.shape_err(
                        format!(
                            "an attention_mask of shape ({} or 1, {} or 1, {} or 1)",
                            qs[0], qs[1], ks[1]
                        ),
                        other,
                    ))
                }
            };
            shapes.push(m3);
        }
        let plan = self.plan(&shapes)?;
        let built: Vec<usize> = self.built_for.iter().flat_map(|s| s[1..].to_vec()).collect();
        let seen: Vec<usize> = shapes[..3].iter().flat_map(|s| s[1..].to_vec()).collect();
        if built != seen {
            return Err(self.shape_err(
                format!(
                    "query, value and key feature sizes {:?} (as built)",
                    self.built_for.iter().map(|s| s[1]).collect::<Vec<_>>()
                ),
                &[qs[2], vs[2], ks[2]],
            ));
        }
        let (h, kd, vd) = (cfg.num_heads, cfg.key_dim, cfg.value_dim());
        let bias = |d: &Dense3| d.bias.clone();
        let q = einsum_dense(query, &w[0].kernel, bias(&w[0]).as_ref(), 1)?;
        let k = einsum_dense(key, &w[1].kernel, bias(&w[1]).as_ref(), 1)?;
        let v = einsum_dense(value, &w[2].kernel, bias(&w[2]).as_ref(), 1)?;
        debug_assert_eq!(q.shape(), vec![qs[0], plan.tq, h, kd]);
        debug_assert_eq!(v.shape(), vec![qs[0], plan.tk, h, vd]);
        // Keras ignores the key's mask when no key is given.
        let masks = AttentionMasks {
            key: masks.key.filter(|_| key_given),
            ..masks
        };
        let dims = (qs[0], plan.tq, plan.tk);
        let combined = masks::combine(&cfg.name, &masks, call.attention_mask, dims)?;
        let mask = combined.as_ref().or(call.attention_mask);
        let causal = call.use_causal_mask || cfg.use_causal_mask;
        let options = AttentionOptions::new(1.0 / (kd as f32).sqrt())
            .causal(causal)
            .mask(mask)
            .dropout(cfg.dropout)
            .return_scores(call.return_attention_scores);
        let rng = (ctx.is_training() && cfg.dropout > 0.0).then(|| ctx.rng());
        let (mut o, mut scores) = ops::scaled_dot_product_attention(&q, &k, &v, options, rng)?;
        if let Some(keep) = masks::dead_rows(mask, causal, dims) {
            // Queries that see no key attend to nothing (Keras' zeroed softmax rows).
            if let Some(s) = scores.as_mut() {
                let per_head = keep
                    .view()
                    .into_shape_with_order((qs[0], 1, plan.tq, 1))
                    .expect("same size");
                *s *= &per_head;
            }
            o = ops::mul(&o, &Var::constant(keep))?;
        }
        let y = einsum_dense(&o, &w[3].kernel, bias(&w[3]).as_ref(), 2)?;
        debug_assert_eq!(y.shape()[2..], plan.out_shape[..]);
        for d in w.iter() {
            regularize(ctx, cfg.kernel_regularizer, &d.kernel)?;
            if let Some(b) = &d.bias {
                regularize(ctx, cfg.bias_regularizer, b)?;
            }
        }
        regularize(ctx, cfg.activity_regularizer, &y)?;
        Ok((y, scores))
    }
}

impl Layer for MultiHeadAttention {
    fn class_name(&self) -> &'static str {
        "MultiHeadAttention"
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = name;
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.cfg.trainable = trainable;
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).expect("layer configs serialize to JSON")
    }

    fn input_arity(&self) -> InputArity {
        Self::ARITY
    }

    fn build(&mut self, _input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        Err(single_input_error(
            &self.cfg.name,
            "MultiHeadAttention",
            Self::ARITY,
        ))
    }

    fn parameter_shapes(&self, _input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        Err(single_input_error(
            &self.cfg.name,
            "MultiHeadAttention",
            Self::ARITY,
        ))
    }

    fn is_built(&self) -> bool {
        self.weights.is_some()
    }

    fn output_shape(&self, _input_shape: &[usize]) -> Result<Vec<usize>> {
        Err(single_input_error(
            &self.cfg.name,
            "MultiHeadAttention",
            Self::ARITY,
        ))
    }

    fn forward(&self, _x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        Err(single_input_error(
            &self.cfg.name,
            "MultiHeadAttention",
            Self::ARITY,
        ))
    }

    fn build_multi(&mut self, input_shapes: &[Vec<usize>], rng: &mut Generator) -> Result<()> {
        let plan = self.plan(input_shapes)?;
        let cfg = &self.cfg;
        let mut specs = plan.vars.iter();
        let mut weights = Vec::new();
        for p in PROJECTIONS {
            let (_, kshape) = specs.next().expect("a kernel per projection");
            let kernel = Var::parameter(cfg.kernel_initializer.initialize_variable(
                kshape,
                rng,
                &cfg.name,
                &format!("{p}.kernel"),
            )?);
            let bias = if cfg.use_bias {
                let (_, bshape) = specs.next().expect("a bias per projection");
                Some(Var::parameter(cfg.bias_initializer.initialize_variable(
                    bshape,
                    rng,
                    &cfg.name,
                    &format!("{p}.bias"),
                )?))
            } else {
                None
            };
            weights.push(Dense3 { kernel, bias });
        }
        let weights: [Dense3; 4] = weights.try_into().expect("four projections");
        self.weights = Some(weights);
        let key = input_shapes.get(2).unwrap_or(&input_shapes[1]).clone();
        self.built_for = vec![input_shapes[0].clone(), input_shapes[1].clone(), key];
        Ok(())
    }

    fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
        let plan = self.plan(input_shapes)?;
        let mut out = vec![plan.tq];
        out.extend(plan.out_shape);
        Ok(out)
    }

    fn parameter_shapes_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Option<ParameterShapes>> {
        Ok(Some(self.plan(input_shapes)?.vars))
    }

    fn forward_multi(&self, xs: &[Var], ctx: &mut ForwardContext) -> Result<Var> {
        if !(2..=4).contains(&xs.len()) {
            return Err(self.count_error(xs.len()));
        }
        let mask = xs.get(3).map(|m| m.to_tensor());
        let call = AttentionCall {
            attention_mask: mask.as_ref(),
            ..Default::default()
        };
        Ok(self.attend(&xs[0], &xs[1], xs.get(2), call, ctx)?.0)
    }

    /// The query's, value's and key's masks become the attention mask
    /// ([`MultiHeadAttention::attend_masked`]); the output carries the
    /// query's mask (Keras).
    fn supports_masking(&self) -> bool {
        true
    }

    fn compute_mask_multi(
        &self,
        _xs: &[Var],
        masks: &[Option<crate::mask::Mask>],
    ) -> Result<Option<crate::mask::Mask>> {
        Ok(masks.first().cloned().flatten())
    }

    fn forward_multi_masked(
        &self,
        xs: &[Var],
        masks: &[Option<crate::mask::Mask>],
        ctx: &mut ForwardContext,
    ) -> Result<crate::mask::Masked> {
        if !(2..=4).contains(&xs.len()) {
            return Err(self.count_error(xs.len()));
        }
        if masks.len() != xs.len() {
            return Err(NnError::Config {
                layer: self.cfg.name.clone(),
                message: format!("{} inputs were given with {} masks", xs.len(), masks.len()),
            });
        }
        let explicit = xs.get(3).map(|m| m.to_tensor());
        let call = AttentionCall {
            attention_mask: explicit.as_ref(),
            ..Default::default()
        };
        let am = AttentionMasks {
            query: masks[0].as_ref(),
            value: masks[1].as_ref(),
            key: masks.get(2).and_then(|m| m.as_ref()),
        };
        let key = xs.get(2);
        let (y, _) = self.attend_masked(&xs[0], &xs[1], key, call, am, ctx)?;
        Ok((y, masks[0].clone()))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let mut out = Vec::new();
        if let Some(w) = &self.weights {
            for (p, d) in PROJECTIONS.iter().zip(w.iter()) {
                out.push(Parameter {
                    name: format!("{}/{p}.kernel", self.cfg.name),
                    var: d.kernel.clone(),
                    trainable: self.cfg.trainable,
                });
                if let Some(b) = &d.bias {
                    out.push(Parameter {
                        name: format!("{}/{p}.bias", self.cfg.name),
                        var: b.clone(),
                        trainable: self.cfg.trainable,
                    });
                }
            }
        }
        out
    }
}
