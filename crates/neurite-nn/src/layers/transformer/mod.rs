//! keras-hub's transformer blocks, as layers owning their sub-layers
//! (MultiHeadAttention, LayerNormalization, Dense) named under the block.

mod block;
mod decoder;
mod encoder;

pub use block::BlockConfig as TransformerBlockConfig;
pub use decoder::TransformerDecoder;
pub use encoder::TransformerEncoder;
