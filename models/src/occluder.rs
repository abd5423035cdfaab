//! Forward passes with each input feature occluded in turn (see
//! [`TrendModel::predict_occluded`]).
//!
//! For an MLP the passes run here, in plain Rust over weights arranged once, rather than through
//! candle: explaining one order is a few thousand multiply-adds on vectors of 16 to 64, where
//! candle's per-operation cost (tensor set-up, packing for its matrix kernel, copies between
//! operations) outweighed the arithmetic several times over. The loops run under `pulp`'s
//! run-time dispatch, so they are compiled for AVX2 and FMA (or NEON) where the CPU has them,
//! with no `unsafe` here. Every product is a fused multiply-add, so the results are the same
//! to the bit on every CPU (without FMA, in software).

use super::error::{MlError, Result};
use super::model::TrendModel;
use candle_core::{Device, Tensor};
use candle_nn::Linear;

/// A model's weights arranged for occlusion.
pub struct Occluder<'a> {
    model: &'a TrendModel,
    /// `None` for kinds other than an MLP, which run the occluded copies through candle.
    mlp: Option<MlpOcclusion>,
}

/// Rows are computed in blocks of this many, one per SIMD lane: a block holds a sample as given
/// and with each of up to 7 features occluded.
const LANES: usize = 8;
/// One value per row of a block.
type Lanes = [f32; LANES];
/// Outputs computed together: as many independent chains of multiply-adds, so that no add
/// waits on the one before it. Layers are padded with zero weights to a multiple of it.
const GROUP: usize = 8;

/// An MLP arranged to compute a sample and its occluded copies as one block of rows.
///
/// Lane 0 of a block is the sample as given and lane r the sample without feature r - 1. The
/// first layer is linear, so feature j's share of the pre-activation is computed once per
/// sample, `part_j = sum over lags of x[lag, j] W[:, lag, j]`, in lane j + 1 (lane 0 holds 0):
/// the sample's pre-activation is the bias plus every part, and occluding j (setting it to 0,
/// the training mean, at every lag) subtracts `part_j`. Only the later layers run once per row.
struct MlpOcclusion {
    window: usize,
    features: usize,
    /// Blocks per sample: `features + 1` rows in blocks of [`LANES`].
    blocks: usize,
    /// `[hidden groups x blocks x window]`: the first-layer weight of each row's feature, lag
    /// by lag, for the [`GROUP`] units of a group (`W[k, lag * features + j]` in lane j + 1 of
    /// its block, 0 in lane 0 and padding).
    first: Vec<[Lanes; GROUP]>,
    /// The first layer's bias, padded to a multiple of [`GROUP`] with zeros.
    first_bias: Vec<f32>,
    /// The later hidden layers (ReLU after each), then the output layer.
    rest: Vec<Dense>,
    classes: usize,
}

/// A linear layer in groups of [`GROUP`] outputs, padded with zeros to whole groups (and to the
/// previous layer's padded width).
struct Dense {
    /// `[output groups x inputs]`: the weights of a group's outputs from one input.
    weight: Vec<[f32; GROUP]>,
    bias: Vec<[f32; GROUP]>,
}

impl Dense {
    fn of(layer: &Linear, padded_inputs: usize) -> Result<Self> {
        let (outputs, inputs) = layer.weight().dims2()?;
        let w: Vec<f32> = layer.weight().flatten_all()?.to_vec1()?;
        let b = bias_of(layer, outputs)?;
        let groups = outputs.div_ceil(GROUP);
        let mut weight = vec![[0.0; GROUP]; groups * padded_inputs];
        let mut bias = vec![[0.0; GROUP]; groups];
        for (o, (row, &bo)) in w.chunks_exact(inputs.max(1)).zip(&b).enumerate() {
            let (group, g) = (o / GROUP, o % GROUP);
            bias[group][g] = bo;
            let column = &mut weight[group * padded_inputs..][..inputs];
            for (to, &v) in column.iter_mut().zip(row) {
                to[g] = v;
            }
        }
        Ok(Self { weight, bias })
    }

    fn outputs(&self) -> usize {
        self.bias.len() * GROUP
    }

    /// `out[o] = bias[o] + sum over k of weight[o, k] x[k]`, lane by lane, [`GROUP`] outputs
    /// at a time; then ReLU if `RELU`. The `inputs` values of `x` are read once per group, so
    /// they may be computed as they are read.
    #[inline(always)]
    fn forward<const RELU: bool>(
        &self,
        x: impl Iterator<Item = Lanes> + Clone,
        inputs: usize,
        out: &mut [Lanes],
    ) {
        let groups = out.chunks_exact_mut(GROUP);
        for ((outs, weights), bias) in groups.zip(self.weight.chunks_exact(inputs)).zip(&self.bias)
        {
            let mut acc: [Lanes; GROUP] = std::array::from_fn(|g| [bias[g]; LANES]);
            for (xk, wk) in x.clone().zip(weights) {
                for (a, &w) in acc.iter_mut().zip(wk) {
                    *a = fma_lanes(&[w; LANES], &xk, a);
                }
            }
            if RELU {
                acc.iter_mut().flatten().for_each(|v| *v = relu(*v));
            }
            outs.copy_from_slice(&acc);
        }
    }
}

/// `a * b + c` lane by lane, fused. Lane loops are written as whole arrays like this one
/// (`from_fn`, then stored whole), which LLVM turns into one vector instruction; per-lane
/// loops over slices it left scalar or shuffled across lanes.
#[inline(always)]
fn fma_lanes(a: &Lanes, b: &Lanes, c: &Lanes) -> Lanes {
    std::array::from_fn(|l| a[l].mul_add(b[l], c[l]))
}

/// ReLU, written so that it vectorises (`f32::max` does not); 0 for NaN as `max` gives.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v > 0.0 { v } else { 0.0 }
}

/// `n` rounded up to a multiple of [`GROUP`].
fn pad(n: usize) -> usize {
    n.div_ceil(GROUP) * GROUP
}

fn bias_of(layer: &Linear, width: usize) -> Result<Vec<f32>> {
    Ok(match layer.bias() {
        Some(b) => b.to_vec1()?,
        None => vec![0.0; width],
    })
}

impl<'a> Occluder<'a> {
    /// Arranges `model`'s weights: an MLP's, given its hidden layers and output layer.
    pub(super) fn new(model: &'a TrendModel, mlp: Option<(&[Linear], &Linear)>) -> Result<Self> {
        let mlp = match mlp {
            // An MLP without hidden layers is refused by the config.
            Some(([first, later @ ..], out)) => Some(MlpOcclusion::new(model, first, later, out)?),
            _ => None,
        };
        Ok(Self { model, mlp })
    }

    /// Returns the model.
    pub fn model(&self) -> &TrendModel {
        self.model
    }

    /// As [`TrendModel::predict_occluded`].
    ///
    /// # Errors
    /// As [`TrendModel::predict_proba`].
    pub fn predict(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        let mut probs = self.logits(x, batch)?;
        super::model::softmax_rows(&mut probs, self.model.classes());
        Ok(probs)
    }

    /// As [`Occluder::predict`], before the softmax: the class scores of each row, for a
    /// caller that needs the probability of one class per row.
    ///
    /// # Errors
    /// As [`TrendModel::predict_proba`].
    pub fn logits(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        let model = self.model;
        let (w, f) = (model.config().window, model.features());
        if x.len() != batch * w * f {
            return Err(MlError::Shape {
                what: "occlusion input",
                expected: format!(
                    "{batch} samples x {w} rows x {f} features = {} values",
                    batch * w * f
                ),
                got: format!("{} values", x.len()),
            });
        }
        if batch == 0 {
            return Ok(Vec::new());
        }
        let Some(mlp) = &self.mlp else {
            let mut copies = Vec::with_capacity(x.len() * (f + 1));
            for sample in x.chunks_exact(w * f) {
                copies.extend_from_slice(sample);
                for j in 0..f {
                    let from = copies.len();
                    copies.extend_from_slice(sample);
                    for lag in 0..w {
                        copies[from + lag * f + j] = 0.0;
                    }
                }
            }
            let x = Tensor::from_vec(copies, (batch * (f + 1), w, f), &Device::Cpu)?;
            return Ok(model.logits(&x, false)?.flatten_all()?.to_vec1()?);
        };
        let mut logits = vec![0.0; batch * (f + 1) * model.classes()];
        pulp::Arch::new().dispatch(Occlude {
            mlp,
            x,
            out: &mut logits,
        });
        Ok(logits)
    }
}

/// [`MlpOcclusion::occlude`] as a `pulp` operation: `with_simd` is inlined into a function
/// compiled for the instruction set found at run time (a closure would be compiled apart,
/// for the baseline, its multiply-adds calling software FMA).
struct Occlude<'a> {
    mlp: &'a MlpOcclusion,
    x: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for Occlude<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.mlp.occlude(self.x, self.out);
    }
}

impl MlpOcclusion {
    fn new(model: &TrendModel, first: &Linear, later: &[Linear], out: &Linear) -> Result<Self> {
        let (window, features) = (model.config().window, model.features());
        let (hidden, inputs) = first.weight().dims2()?;
        if inputs != window * features || features == 0 {
            return Err(MlError::Shape {
                what: "first layer weight",
                expected: format!("{window} x {features} inputs"),
                got: format!("{inputs}"),
            });
        }
        let blocks = (features + 1).div_ceil(LANES);
        let w1: Vec<f32> = first.weight().flatten_all()?.to_vec1()?;
        // first[unit group, block, lag][unit]: each row's lanes as inputs[lag, block] holds them.
        let mut arranged = vec![[[0.0; LANES]; GROUP]; pad(hidden) / GROUP * blocks * window];
        let mut lanes = vec![0.0; blocks * LANES];
        for (k, row) in w1.chunks_exact(inputs).enumerate() {
            let unit_group = &mut arranged[k / GROUP * blocks * window..][..blocks * window];
            for (lag, values) in row.chunks_exact(features).enumerate() {
                lanes[1..=features].copy_from_slice(values);
                for (block, chunk) in lanes.as_chunks::<LANES>().0.iter().enumerate() {
                    unit_group[block * window + lag][k % GROUP] = *chunk;
                }
            }
        }
        let mut first_bias = bias_of(first, hidden)?;
        first_bias.resize(pad(hidden), 0.0);
        let mut width = pad(hidden);
        let mut rest = Vec::with_capacity(later.len() + 1);
        for layer in later.iter().chain([out]) {
            let dense = Dense::of(layer, width)?;
            width = dense.outputs();
            rest.push(dense);
        }
        Ok(Self {
            window,
            features,
            blocks,
            first: arranged,
            first_bias,
            rest,
            classes: out.weight().dim(0)?,
        })
    }

    /// Writes the logits of each sample of `x` (`[window x features]` each) and of its
    /// `features` occluded copies to `out`, `[(features + 1) x classes]` per sample.
    #[inline(always)]
    fn occlude(&self, x: &[f32], out: &mut [f32]) {
        let (w, f, blocks) = (self.window, self.features, self.blocks);
        let hidden = self.first_bias.len();
        let widest = (self.rest.iter().map(Dense::outputs)).fold(hidden, usize::max);
        let mut inputs = vec![[0.0; LANES]; w * blocks];
        let mut parts = vec![[0.0; LANES]; hidden * blocks];
        let mut z = vec![0.0; hidden];
        let (mut a, mut b) = (vec![[0.0; LANES]; widest], vec![[0.0; LANES]; widest]);
        let per_sample = (f + 1) * self.classes;
        for (sample, logits) in x.chunks_exact(w * f).zip(out.chunks_exact_mut(per_sample)) {
            // inputs[lag, block]: the value each row's feature has at the lag (lane 0 and
            // padding stay 0).
            for (lanes, values) in (inputs.chunks_exact_mut(blocks)).zip(sample.chunks_exact(f)) {
                lanes.as_flattened_mut()[1..=f].copy_from_slice(values);
            }
            self.first_parts(&inputs, &mut parts);
            // The pre-activation of the sample: the bias plus every feature's part.
            for ((zk, pk), &bias) in (z.iter_mut())
                .zip(parts.chunks_exact(blocks))
                .zip(&self.first_bias)
            {
                *zk = pk.iter().flatten().fold(bias, |s, &p| s + p);
            }
            for block in 0..blocks {
                // Each row's hidden units: ReLU of the sample's pre-activation less its own
                // feature's part (none in lane 0), computed as the next layer reads them.
                let first = z.iter().zip(parts.chunks_exact(blocks)).map(|(&zk, pk)| {
                    // zk - p exactly, as a fused multiply-add: in that form it vectorises.
                    let mut v = fma_lanes(&[-1.0; LANES], &pk[block], &[zk; LANES]);
                    v.iter_mut().for_each(|x| *x = relu(*x));
                    v
                });
                let mut width = hidden;
                for (i, layer) in self.rest.iter().enumerate() {
                    let (n, last) = (layer.outputs(), i + 1 == self.rest.len());
                    let later = a[..width].iter().copied();
                    match (i == 0, last) {
                        (true, false) => layer.forward::<true>(first.clone(), width, &mut b[..n]),
                        (true, true) => layer.forward::<false>(first.clone(), width, &mut b[..n]),
                        (false, false) => layer.forward::<true>(later, width, &mut b[..n]),
                        (false, true) => layer.forward::<false>(later, width, &mut b[..n]),
                    }
                    std::mem::swap(&mut a, &mut b);
                    width = n;
                }
                // Lane r of the block is row block * LANES + r of the sample.
                let rows = logits[block * LANES * self.classes..].chunks_exact_mut(self.classes);
                for (lane, row) in rows.take(LANES).enumerate() {
                    for (logit, class) in row.iter_mut().zip(&a) {
                        *logit = class[lane];
                    }
                }
            }
        }
    }

    /// `parts[k, block]`: hidden unit k's share of the pre-activation from each row's feature,
    /// [`GROUP`] units at a time.
    #[inline(always)]
    fn first_parts(&self, inputs: &[Lanes], parts: &mut [Lanes]) {
        let (w, blocks) = (self.window, self.blocks);
        for (group, weights) in
            (parts.chunks_exact_mut(GROUP * blocks)).zip(self.first.chunks_exact(blocks * w))
        {
            for (block, weights) in weights.chunks_exact(w).enumerate() {
                let mut acc = [[0.0; LANES]; GROUP];
                let x = inputs.chunks_exact(blocks).map(|lanes| &lanes[block]);
                for (xl, wl) in x.zip(weights) {
                    for (a, w) in acc.iter_mut().zip(wl) {
                        *a = fma_lanes(w, xl, a);
                    }
                }
                for (g, a) in acc.into_iter().enumerate() {
                    group[g * blocks + block] = a;
                }
            }
        }
    }
}
