//! The convolution family moved into `src/conv/`; the paths users had keep
//! working: functions at the crate root, and the old module paths
//! `neurite_tensor::{conv, im2col, pool, conv_pool}::...`.

use ndarray::Array4;

#[test]
fn convolution_and_pooling_keep_their_paths() {
    let x = Array4::<f32>::from_shape_fn((1, 4, 4, 2), |(_, h, w, c)| (h * 4 + w) as f32 + c as f32 * 0.5);
    let k = Array4::<f32>::from_elem((3, 3, 2, 3), 0.25);
    let p = neurite_tensor::Conv2dParams::default();
    let at_root = neurite_tensor::conv2d(x.view(), k.view(), None, &p).unwrap();
    let in_module = neurite_tensor::conv::conv2d(x.view(), k.view(), None, &p).unwrap();
    assert_eq!(at_root, in_module);

    let pool = neurite_tensor::pool::Pool2dParams::new((2, 2));
    let (a, _) = neurite_tensor::max_pool2d(x.view(), &pool).unwrap();
    let (b, _) = neurite_tensor::pool::max_pool2d(x.view(), &pool).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[[0, 0, 0, 0]], 5.0);

    let g = neurite_tensor::im2col::ConvGeometry::new(&[1, 4, 4, 2], (3, 3), &p).unwrap();
    let cols = neurite_tensor::im2col::im2col(x.view(), &g).unwrap();
    assert_eq!(cols, neurite_tensor::im2col(x.view(), &g).unwrap());

    let fused = neurite_tensor::conv_pool::conv2d_relu_max_pool2d(x.view(), k.view(), None, &p, &pool);
    assert_eq!(
        fused.unwrap(),
        neurite_tensor::conv2d_relu_max_pool2d(x.view(), k.view(), None, &p, &pool).unwrap()
    );
}
