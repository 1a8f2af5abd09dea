//! Where the boxes and arrows of a model picture go: a layered drawing.
//!
//! 1. A box's *level* is the length of the longest path to it from a box
//!    with no inbound edge (the inputs), so inputs are at the top and every
//!    arrow points down.
//! 2. An edge that skips levels passes through a narrow *waypoint* on each
//!    level in between, which takes horizontal room like a box; a skip
//!    connection is drawn beside the boxes it skips, not through them. (A
//!    graph that would need more than [`MAX_WAYPOINTS`] of them draws its
//!    long edges straight instead.)
//! 3. Level by level from the top, the boxes and waypoints of a level are
//!    ordered by the mean x of what they read (ties: creation order, which
//!    follows the graph's topological order), placed as near that mean as
//!    their order and spacing allow, and the level is centred on the means:
//!    a chain is a straight column, branches stand side by side.
//!
//! Everything is computed in vectors in a fixed order: the same graph gives
//! the same coordinates.

/// Height of a box (two lines of text).
pub(super) const BOX_H: f64 = 46.0;
/// Vertical space between two levels of boxes.
const LEVEL_GAP: f64 = 46.0;
/// Horizontal space between neighbours on a level.
const H_GAP: f64 = 28.0;
/// Width a waypoint of a long edge takes on its level.
const WAYPOINT_W: f64 = 10.0;
/// Space around the drawing.
pub(super) const MARGIN: f64 = 20.0;
/// At most this many waypoints (their number grows with edges times the
/// levels they skip); beyond, long edges are drawn straight.
pub(super) const MAX_WAYPOINTS: usize = 20_000;

/// A box's rectangle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rect {
    /// Left edge.
    pub(super) x: f64,
    /// Top edge.
    pub(super) y: f64,
    pub(super) w: f64,
    pub(super) h: f64,
}

/// The computed drawing: a rectangle per box, a polyline per edge (from
/// the source's bottom to the target's top, through the edge's waypoints),
/// and the size of the picture.
#[derive(Debug, PartialEq)]
pub(super) struct Layout {
    pub(super) boxes: Vec<Rect>,
    pub(super) edges: Vec<Vec<(f64, f64)>>,
    pub(super) width: f64,
    pub(super) height: f64,
}

/// A box or a waypoint on one level.
struct Item {
    level: usize,
    width: f64,
    /// The items it reads (on earlier levels).
    preds: Vec<usize>,
    /// Centre x, once its level is placed.
    x: f64,
}

/// The layered drawing of `widths.len()` boxes joined by `edges` (source,
/// target). Boxes are given in a topological order: every edge goes from
/// a lower index to a higher one.
pub(super) fn layout(widths: &[f64], edges: &[(usize, usize)]) -> Layout {
    debug_assert!(edges.iter().all(|&(s, t)| s < t && t < widths.len()));
    let mut level = vec![0usize; widths.len()];
    let mut inbound: Vec<Vec<usize>> = vec![Vec::new(); widths.len()];
    for (e, &(_, t)) in edges.iter().enumerate() {
        inbound[t].push(e);
    }
    for t in 0..widths.len() {
        level[t] = inbound[t]
            .iter()
            .map(|&e| level[edges[e].0] + 1)
            .max()
            .unwrap_or(0);
    }
    let waypoints: usize = edges.iter().map(|&(s, t)| level[t] - level[s] - 1).sum();
    let use_waypoints = waypoints <= MAX_WAYPOINTS;

    // Items in creation order: each box, right after the waypoints of the
    // long edges into it. `chain[e]`: the items edge e passes through.
    let mut items: Vec<Item> = Vec::with_capacity(widths.len() + waypoints.min(MAX_WAYPOINTS));
    let mut box_item = vec![usize::MAX; widths.len()];
    let mut chain: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    for b in 0..widths.len() {
        let mut preds = Vec::with_capacity(inbound[b].len());
        for &e in &inbound[b] {
            let s = edges[e].0;
            let mut last = box_item[s];
            if use_waypoints {
                for l in level[s] + 1..level[b] {
                    items.push(Item {
                        level: l,
                        width: WAYPOINT_W,
                        preds: vec![last],
                        x: 0.0,
                    });
                    last = items.len() - 1;
                    chain[e].push(last);
                }
            }
            preds.push(last);
        }
        items.push(Item {
            level: level[b],
            width: widths[b],
            preds,
            x: 0.0,
        });
        box_item[b] = items.len() - 1;
    }

    let levels = level.iter().max().map_or(0, |&m| m + 1);
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); levels];
    for (i, item) in items.iter().enumerate() {
        by_level[item.level].push(i);
    }
    for members in &by_level {
        place_level(&mut items, members);
    }

    let left = items
        .iter()
        .map(|i| i.x - i.width / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if left.is_finite() { MARGIN - left } else { MARGIN };
    for item in &mut items {
        item.x += shift;
    }
    let right = items.iter().map(|i| i.x + i.width / 2.0).fold(MARGIN, f64::max);
    let top = |l: usize| MARGIN + l as f64 * (BOX_H + LEVEL_GAP);
    let boxes: Vec<Rect> = box_item
        .iter()
        .map(|&i| Rect {
            x: items[i].x - items[i].width / 2.0,
            y: top(items[i].level),
            w: items[i].width,
            h: BOX_H,
        })
        .collect();
    let edges = edge_paths(edges, &boxes, &chain, &items, top);
    Layout {
        boxes,
        edges,
        width: right + MARGIN,
        height: top(levels.max(1)) - LEVEL_GAP + MARGIN,
    }
}

/// Orders one level's items by the mean x of their predecessors and sets
/// their x: as near that mean as their order allows, then the level
/// shifted so that on average its items sit on their means.
fn place_level(items: &mut [Item], members: &[usize]) {
    let wanted: Vec<Option<f64>> = members
        .iter()
        .map(|&i| {
            let preds = &items[i].preds;
            (!preds.is_empty()).then(|| preds.iter().map(|&p| items[p].x).sum::<f64>() / preds.len() as f64)
        })
        .collect();
    // Stable: equal means keep creation order; items reading nothing (the
    // inputs) keep theirs and go after the others on a shared level.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| match (wanted[a], wanted[b]) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let sorted: Vec<usize> = order.iter().map(|&k| members[k]).collect();
    let mut placed: Vec<f64> = Vec::with_capacity(sorted.len());
    let mut sum_wanted = 0.0;
    for (n, &k) in order.iter().enumerate() {
        let item = &items[members[k]];
        let after_previous = match n {
            0 => f64::NEG_INFINITY,
            _ => placed[n - 1] + (items[sorted[n - 1]].width + item.width) / 2.0 + H_GAP,
        };
        let want = wanted[k].unwrap_or(after_previous.max(0.0));
        sum_wanted += want;
        placed.push(want.max(after_previous));
    }
    let shift = if placed.is_empty() {
        0.0
    } else {
        (sum_wanted - placed.iter().sum::<f64>()) / placed.len() as f64
    };
    for (&i, x) in sorted.iter().zip(&placed) {
        items[i].x = x + shift;
    }
}

/// Each edge's points: out of its source's bottom, through its waypoints
/// (down each level it crosses), into its target's top. A box's outgoing
/// edges leave from points spread along its bottom and its incoming ones
/// arrive spread along its top, both ordered by where the other end lies,
/// so arrows do not cross at the boxes.
fn edge_paths(
    edges: &[(usize, usize)],
    boxes: &[Rect],
    chain: &[Vec<usize>],
    items: &[Item],
    top: impl Fn(usize) -> f64,
) -> Vec<Vec<(f64, f64)>> {
    let center = |r: &Rect| r.x + r.w / 2.0;
    // The x at which edge e leaves its source / reaches its target, as seen
    // from the other end: the nearest waypoint, or the other box's centre.
    let first_hop = |e: usize| {
        chain[e]
            .first()
            .map_or(center(&boxes[edges[e].1]), |&i| items[i].x)
    };
    let last_hop = |e: usize| {
        chain[e]
            .last()
            .map_or(center(&boxes[edges[e].0]), |&i| items[i].x)
    };
    let mut outgoing: Vec<Vec<(f64, usize)>> = vec![Vec::new(); boxes.len()];
    let mut incoming: Vec<Vec<(f64, usize)>> = vec![Vec::new(); boxes.len()];
    for (e, &(s, t)) in edges.iter().enumerate() {
        outgoing[s].push((first_hop(e), e));
        incoming[t].push((last_hop(e), e));
    }
    let mut start = vec![0.0; edges.len()];
    let mut end = vec![0.0; edges.len()];
    for (b, rect) in boxes.iter().enumerate() {
        let spread = |ends: &mut Vec<(f64, usize)>, slot: &mut Vec<f64>| {
            ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let n = ends.len() as f64;
            for (k, &(_, e)) in ends.iter().enumerate() {
                slot[e] = rect.x + rect.w * (k as f64 + 1.0) / (n + 1.0);
            }
        };
        spread(&mut outgoing[b], &mut start);
        spread(&mut incoming[b], &mut end);
    }
    edges
        .iter()
        .enumerate()
        .map(|(e, &(s, t))| {
            let mut points = vec![(start[e], boxes[s].y + boxes[s].h)];
            for &i in &chain[e] {
                let y = top(items[i].level);
                points.push((items[i].x, y));
                points.push((items[i].x, y + BOX_H));
            }
            points.push((end[e], boxes[t].y));
            points
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn overlap(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    #[test]
    fn a_chain_is_one_straight_column() {
        let l = layout(&[100.0, 140.0, 80.0], &[(0, 1), (1, 2)]);
        let centers: Vec<f64> = l.boxes.iter().map(|r| r.x + r.w / 2.0).collect();
        assert!(
            centers.iter().all(|&c| (c - centers[0]).abs() < 1e-9),
            "{centers:?}"
        );
        assert!(l.boxes[0].y < l.boxes[1].y && l.boxes[1].y < l.boxes[2].y);
        for path in &l.edges {
            assert_eq!(path.len(), 2);
            assert!(
                (path[0].0 - path[1].0).abs() < 1e-9,
                "a chain's arrows are vertical"
            );
        }
    }

    #[test]
    fn a_skip_connection_goes_around_the_box_it_skips() {
        // 0 -> 1 -> 2 and 0 -> 2 (a residual block).
        let l = layout(&[100.0, 100.0, 100.0], &[(0, 1), (1, 2), (0, 2)]);
        let skip = &l.edges[2];
        assert_eq!(skip.len(), 4, "one waypoint: in and out of level 1");
        let middle = &l.boxes[1];
        assert!(skip[1].0 > middle.x + middle.w, "{skip:?} {middle:?}");
        assert!((skip[1].1 - middle.y).abs() < 1e-9 && (skip[2].1 - (middle.y + middle.h)).abs() < 1e-9);
        // The two arrows into box 2 arrive at different points.
        assert!(l.edges[1].last().unwrap().0 < l.edges[2].last().unwrap().0);
    }

    #[test]
    fn branches_stand_side_by_side_in_call_order() {
        // 0 -> 1, 0 -> 2, (1, 2) -> 3.
        let l = layout(&[80.0; 4], &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert_eq!(l.boxes[1].y, l.boxes[2].y);
        assert!(l.boxes[1].x + l.boxes[1].w + H_GAP <= l.boxes[2].x + 1e-9);
        let c = |r: &Rect| r.x + r.w / 2.0;
        assert!(
            (c(&l.boxes[0]) - c(&l.boxes[3])).abs() < 1e-9,
            "the merge sits under the split"
        );
    }

    #[test]
    fn too_many_waypoints_draw_long_edges_straight() {
        // A chain of n boxes where every box also reads box 0: about n²/2 waypoints.
        let n = 300;
        let mut edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        edges.extend((2..n).map(|i| (0, i)));
        let l = layout(&vec![60.0; n], &edges);
        assert!(l.edges.iter().all(|p| p.len() == 2));
        assert_eq!(l.boxes.len(), n);
    }

    #[test]
    fn nothing_and_one_box() {
        let empty = layout(&[], &[]);
        assert!(empty.boxes.is_empty() && empty.width > 0.0 && empty.height > 0.0);
        let one = layout(&[120.0], &[]);
        assert_eq!(
            one.boxes[0],
            Rect {
                x: MARGIN,
                y: MARGIN,
                w: 120.0,
                h: BOX_H
            }
        );
        assert_eq!(one.width, 120.0 + 2.0 * MARGIN);
        assert_eq!(one.height, BOX_H + 2.0 * MARGIN);
    }

    /// Random DAGs: edges from a lower to a higher index, boxes of random widths.
    fn dag() -> impl Strategy<Value = (Vec<f64>, Vec<(usize, usize)>)> {
        (1usize..14).prop_flat_map(|n| {
            let widths = prop::collection::vec(40.0f64..300.0, n);
            let edges = prop::collection::vec((0..n, 0..n), 0..3 * n).prop_map(|pairs| {
                let mut e: Vec<(usize, usize)> = pairs
                    .into_iter()
                    .filter(|(a, b)| a != b)
                    .map(|(a, b)| (a.min(b), a.max(b)))
                    .collect();
                e.sort_unstable();
                e
            });
            (widths, edges)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Boxes never overlap and lie inside the picture, every edge goes
        /// from its source's bottom down to its target's top through points
        /// going down level by level, and the layout is a function of its input.
        #[test]
        fn layouts_are_tidy((widths, edges) in dag()) {
            let l = layout(&widths, &edges);
            prop_assert_eq!(l.boxes.len(), widths.len());
            for (i, a) in l.boxes.iter().enumerate() {
                prop_assert!(a.x >= MARGIN - 1e-9 && a.y >= MARGIN - 1e-9);
                prop_assert!(a.x + a.w <= l.width - MARGIN + 1e-9 && a.y + a.h <= l.height - MARGIN + 1e-9);
                prop_assert!((a.w - widths[i]).abs() < 1e-9);
                for b in &l.boxes[i + 1..] {
                    prop_assert!(!overlap(a, b), "{:?} overlaps {:?}", a, b);
                }
            }
            for (path, &(s, t)) in l.edges.iter().zip(&edges) {
                let (src, dst) = (&l.boxes[s], &l.boxes[t]);
                prop_assert!(dst.y > src.y, "targets lie below their sources");
                let first = path[0];
                let last = *path.last().unwrap();
                prop_assert!((first.1 - (src.y + src.h)).abs() < 1e-9);
                prop_assert!(first.0 > src.x && first.0 < src.x + src.w);
                prop_assert!((last.1 - dst.y).abs() < 1e-9);
                prop_assert!(last.0 > dst.x && last.0 < dst.x + dst.w);
                prop_assert!(path.windows(2).all(|w| w[1].1 >= w[0].1));
                // Waypoints never sit inside a box.
                for &(x, y) in &path[1..path.len() - 1] {
                    for r in &l.boxes {
                        let inside = x > r.x && x < r.x + r.w && y >= r.y - 1e-9 && y <= r.y + r.h + 1e-9;
                        prop_assert!(!inside, "waypoint ({}, {}) inside {:?}", x, y, r);
                    }
                }
            }
            prop_assert_eq!(layout(&widths, &edges), l);
        }
    }
}
