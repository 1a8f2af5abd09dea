//! keras-hub's transformer blocks, as layers owning their sub-layers
//! (MultiHeadAttention, LayerNormalization, Dense) named under the block.

mod block;
mod encoder;

pub use block::BlockConfig as TransformerBlockConfig;
pub use encoder::TransformerEncoder;
