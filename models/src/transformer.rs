//! The encoder of `kind = "transformer"`: each row of the window is projected to `d_model`
//! values, a fixed sinusoidal positional encoding is added (attention alone cannot tell lag 1
//! from lag 5), then `encoder_layers` pre-norm blocks of multi-head self-attention and a GELU
//! feed-forward, each around a residual connection, a final layer norm, and the mean over the
//! window's steps, which the model's output layer turns into class scores.
//!
//! Attention runs over the whole window in both directions: every row of a window is at or
//! before its decision bar, so no mask is needed to keep the future out; nothing mixes samples
//! of a batch (no batch statistics), so a prediction depends on its own window only.
//!
//! Layer norm is computed with candle's composed `layer_norm_slow`: `candle_nn::LayerNorm`'s
//! forward takes a fused kernel without a backward pass on contiguous inputs, which would leave
//! the norms, and every weight before them, untrained.

use super::config::TransformerShape;
use super::error::Result;
use super::model::{ParamSpec, constant, param};
use candle_core::{D, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

/// Epsilon of every layer norm (PyTorch's default).
const NORM_EPS: f32 = 1e-5;

/// A layer norm's scale and shift.
struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn new(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(d, "weight")?,
            bias: vb.get(d, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm_slow(
            x,
            &self.weight,
            &self.bias,
            NORM_EPS,
        )?)
    }
}

/// One pre-norm encoder layer.
struct Block {
    attn_norm: Norm,
    /// Queries, keys and values in one product: `[3 d_model x d_model]`.
    qkv: Linear,
    attn_out: Linear,
    ff_norm: Norm,
    ff_in: Linear,
    ff_out: Linear,
}

/// The encoder, from input rows to one pooled vector per sample.
pub(crate) struct Encoder {
    embed: Linear,
    /// `[window x d_model]`, added to every sample.
    positions: Tensor,
    blocks: Vec<Block>,
    norm: Norm,
    heads: usize,
}

/// Returns the weights of an encoder over rows of `features` values, named as
/// [`Encoder::new`] looks them up; `Linear` weights uniform in +-1/sqrt(fan-in) as PyTorch's
/// defaults, norms at scale 1 and shift 0.
pub(crate) fn param_specs(shape: &TransformerShape, features: usize) -> Vec<ParamSpec> {
    let d = shape.d_model;
    let mut specs = Vec::new();
    let mut linear = |name: &str, out: usize, inp: usize| {
        let b = 1.0 / (inp as f64).sqrt();
        specs.push(param(format!("{name}.weight"), &[out, inp], b));
        specs.push(param(format!("{name}.bias"), &[out], b));
    };
    linear("embed", d, features);
    for i in 0..shape.layers {
        linear(&format!("block{i}.qkv"), 3 * d, d);
        linear(&format!("block{i}.attn_out"), d, d);
        linear(&format!("block{i}.ff_in"), shape.ff_width, d);
        linear(&format!("block{i}.ff_out"), d, shape.ff_width);
    }
    let mut norms = vec!["norm".to_string()];
    for i in 0..shape.layers {
        norms.push(format!("block{i}.attn_norm"));
        norms.push(format!("block{i}.ff_norm"));
    }
    for name in norms {
        specs.push(constant(format!("{name}.weight"), &[d], 1.0));
        specs.push(constant(format!("{name}.bias"), &[d], 0.0));
    }
    specs
}

/// Returns the sinusoidal encoding of "Attention Is All You Need", `[window x d]`: position p,
/// dimension 2i gets sin(p / 10000^(2i/d)), dimension 2i + 1 the cosine of the same angle.
fn sinusoidal(window: usize, d: usize) -> Result<Tensor> {
    let mut values = Vec::with_capacity(window * d);
    for p in 0..window {
        for j in 0..d {
            let pair = (j / 2 * 2) as f64;
            let angle = p as f64 / 10_000f64.powf(pair / d as f64);
            let v = if j % 2 == 0 { angle.sin() } else { angle.cos() };
            values.push(v as f32);
        }
    }
    Ok(Tensor::from_vec(values, (window, d), &Device::Cpu)?)
}

impl Encoder {
    /// Builds the encoder from weights already in `vb` (see [`param_specs`]).
    pub(crate) fn new(
        shape: &TransformerShape,
        window: usize,
        features: usize,
        vb: &VarBuilder,
    ) -> Result<Self> {
        let d = shape.d_model;
        let mut blocks = Vec::with_capacity(shape.layers);
        for i in 0..shape.layers {
            let vb = vb.pp(format!("block{i}"));
            blocks.push(Block {
                attn_norm: Norm::new(d, vb.pp("attn_norm"))?,
                qkv: candle_nn::linear(d, 3 * d, vb.pp("qkv"))?,
                attn_out: candle_nn::linear(d, d, vb.pp("attn_out"))?,
                ff_norm: Norm::new(d, vb.pp("ff_norm"))?,
                ff_in: candle_nn::linear(d, shape.ff_width, vb.pp("ff_in"))?,
                ff_out: candle_nn::linear(shape.ff_width, d, vb.pp("ff_out"))?,
            });
        }
        Ok(Self {
            embed: candle_nn::linear(features, d, vb.pp("embed"))?,
            positions: sinusoidal(window, d)?,
            blocks,
            norm: Norm::new(d, vb.pp("norm"))?,
            heads: shape.heads,
        })
    }

    /// Returns `[batch x d_model]` for `x`, `[batch x window x features]`; `dropout` is applied
    /// to the attention weights and to each residual branch (the identity at inference).
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        dropout: &dyn Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut h = self.embed.forward(x)?.broadcast_add(&self.positions)?;
        for block in &self.blocks {
            let attended = self.attention(block, &block.attn_norm.forward(&h)?, dropout)?;
            h = (h + dropout(&attended)?)?;
            let ff = block.ff_norm.forward(&h)?;
            let ff = block.ff_out.forward(&block.ff_in.forward(&ff)?.gelu()?)?;
            h = (h + dropout(&ff)?)?;
        }
        Ok(self.norm.forward(&h)?.mean(1)?)
    }

    /// Multi-head scaled dot-product self-attention of `x`, `[b x t x d]`.
    fn attention(
        &self,
        block: &Block,
        x: &Tensor,
        dropout: &dyn Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let head = d / self.heads;
        let qkv = block.qkv.forward(x)?;
        // [b, t, d] -> [b, heads, t, head]
        let split = |i: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(D::Minus1, i * d, d)?
                .reshape((b, t, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (head as f64).sqrt()))?;
        let weights = dropout(&candle_nn::ops::softmax(&scores, D::Minus1)?)?;
        let mixed = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        Ok(block.attn_out.forward(&mixed)?)
    }
}
