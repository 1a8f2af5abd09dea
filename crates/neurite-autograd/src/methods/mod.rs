//! Methods on [`Var`](crate::Var) mirroring the free functions of
//! [`crate::ops`] whose main input is one `Var`:
//! `x.matmul(&w)?.relu()?.mean_all()?` is
//! `ops::mean_all(&ops::relu(&ops::matmul(&x, &w)?)?)?`. Each method is a
//! one-line delegation (same value, same gradient) and returns
//! [`Result<Var>`](crate::Result) like the function it calls. Element-wise
//! `+ - * /` and negation are operators (see [`crate::operators`]).

mod activation;
mod arith;
mod nn;
mod reduce;
mod shape;
