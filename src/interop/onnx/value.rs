//! `Value`: an ONNX value standing for a neurite tensor, with the axis order it is stored in.

use super::builder::GraphBuilder;

/// The axis order of a stored value. neurite keeps channels last (`NHWC`, `NLC`); ONNX's
/// convolutions, poolings and batch normalization want channels first (`NCHW`, `NCL`).
/// A converter asks for the order it needs and a `Transpose` is added only on a change,
/// so a chain of convolutions stays channels-first between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// neurite's order (batch first, channels last).
    Native,
    /// Batch, channels, then the spatial axes.
    ChannelsFirst,
}

/// One tensor of the exported graph.
#[derive(Clone, Debug)]
pub(crate) struct Value {
    /// The ONNX value name.
    pub(crate) name: String,
    /// neurite's sample shape (no batch axis), whatever the layout.
    pub(crate) shape: Vec<usize>,
    /// How the value is stored.
    pub(crate) layout: Layout,
}

/// The permutation from channels-last to channels-first for a tensor of `rank` axes (batch included).
pub(crate) fn to_channels_first(rank: usize) -> Vec<usize> {
    let mut perm = vec![0, rank - 1];
    perm.extend(1..rank - 1);
    perm
}

/// The permutation from channels-first back to channels-last.
pub(crate) fn to_channels_last(rank: usize) -> Vec<usize> {
    let mut perm = vec![0];
    perm.extend(2..rank);
    perm.push(1);
    perm
}

impl Value {
    /// A value in neurite's order.
    pub(crate) fn native(name: String, shape: Vec<usize>) -> Value {
        Value {
            name,
            shape,
            layout: Layout::Native,
        }
    }

    /// A value stored channels-first.
    pub(crate) fn channels_first(name: String, shape: Vec<usize>) -> Value {
        Value {
            name,
            shape,
            layout: Layout::ChannelsFirst,
        }
    }

    /// The rank with the batch axis.
    pub(crate) fn rank(&self) -> usize {
        self.shape.len() + 1
    }

    /// The value's name in neurite's order, transposing if it is stored channels-first.
    pub(crate) fn in_native(&self, b: &mut GraphBuilder) -> String {
        match self.layout {
            Layout::Native => self.name.clone(),
            Layout::ChannelsFirst => b.transpose(&self.name, &to_channels_last(self.rank())),
        }
    }

    /// The value's name channels-first, transposing if it is stored in neurite's order.
    pub(crate) fn in_channels_first(&self, b: &mut GraphBuilder) -> String {
        match self.layout {
            Layout::ChannelsFirst => self.name.clone(),
            Layout::Native => b.transpose(&self.name, &to_channels_first(self.rank())),
        }
    }

    /// The same kind of value (same layout) under a new name and shape: for element-wise results.
    pub(crate) fn like(&self, name: String, shape: Vec<usize>) -> Value {
        Value {
            name,
            shape,
            layout: self.layout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_permutations_undo_each_other() {
        for rank in 2..7 {
            let (f, l) = (to_channels_first(rank), to_channels_last(rank));
            let composed: Vec<usize> = (0..rank).map(|i| f[l[i]]).collect();
            assert_eq!(composed, (0..rank).collect::<Vec<_>>(), "rank {rank}");
        }
        assert_eq!(to_channels_first(4), vec![0, 3, 1, 2]);
        assert_eq!(to_channels_last(4), vec![0, 2, 3, 1]);
    }
}
