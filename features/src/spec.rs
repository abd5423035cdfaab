//! Compiling `[[features]]` into a pipeline: resolving each input to a bar field or another
//! feature's output, ordering the features so inputs come first (a small DAG), and laying out one
//! column per output.

use super::FeatureConfig;
use super::FeatureKind;
use super::kernel::Kernel;
use crate::indicators::Indicator;
use std::fmt;

/// Why a feature pipeline cannot be built or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("feature {feature:?}: {message}")]
pub struct FeatureError {
    /// The feature's name (or its position, `features[i]`, when the name is missing).
    pub feature: String,
    /// The key at fault (`period`, `input`, ...), if one.
    pub key: Option<&'static str>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FeatureError {
    /// Returns the error of `feature` (and its `key`, if one is at fault): `message` says what
    /// is wrong and what was expected.
    pub fn new(feature: &str, key: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            feature: feature.to_string(),
            key,
            message: message.into(),
        }
    }
}

/// A field of the bar, usable as a feature's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarField {
    /// Open price.
    Open = 0,
    /// High price.
    High,
    /// Low price.
    Low,
    /// Close price.
    Close,
    /// Volume.
    Volume,
    /// (high + low + close) / 3.
    Typical,
}

impl BarField {
    const ALL: [(&'static str, BarField); 6] = [
        ("open", BarField::Open),
        ("high", BarField::High),
        ("low", BarField::Low),
        ("close", BarField::Close),
        ("volume", BarField::Volume),
        ("typical", BarField::Typical),
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Returns the field's value in `bar`.
    #[inline]
    pub fn of(self, bar: &market_data::Bar) -> f64 {
        match self {
            BarField::Open => bar.open,
            BarField::High => bar.high,
            BarField::Low => bar.low,
            BarField::Close => bar.close,
            BarField::Volume => bar.volume,
            BarField::Typical => (bar.high + bar.low + bar.close) / 3.0,
        }
    }
}

/// Where one input of a feature comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A field of the current bar.
    Bar(BarField),
    /// A column of the pipeline, computed earlier in the same step.
    Column(usize),
}

/// One compiled feature.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// What the user wrote.
    pub config: FeatureConfig,
    /// What it computes, read from `config`.
    pub kind: FeatureKind,
    /// Its indicator, fresh (each run clones it).
    pub kernel: Kernel,
    /// Its inputs, resolved.
    pub inputs: Vec<Source>,
    /// Its first output column; outputs are contiguous.
    pub first_column: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// Whether a NaN input after warm-up is an error rather than a reset.
    pub nan_is_error: bool,
    /// Bar gaps longer than this reset the feature.
    pub max_gap_ns: Option<i64>,
}

/// A validated, ordered feature pipeline with its column layout.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    nodes: Vec<NodeSpec>,
    columns: Vec<String>,
}

impl PipelineSpec {
    /// Compiles `[[features]]` tables.
    ///
    /// # Errors
    /// Names the feature and key at fault: an unknown kind, a parameter the kind does not take
    /// or out of range, an unknown or ambiguous input, a duplicate name, or a cycle.
    pub fn new(configs: &[FeatureConfig]) -> Result<Self, FeatureError> {
        // Prototypes tell each feature's outputs before anything is wired.
        let mut kinds: Vec<FeatureKind> = Vec::with_capacity(configs.len());
        let mut protos: Vec<Kernel> = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let label = if c.name.is_empty() {
                format!("features[{i}]")
            } else {
                c.name.clone()
            };
            if c.name.is_empty() {
                return Err(FeatureError::new(&label, Some("name"), "a non-empty name"));
            }
            if BarField::parse(&c.name).is_some() {
                return Err(FeatureError::new(
                    &label,
                    Some("name"),
                    "a name other than a bar field (open, high, low, close, volume, typical)",
                ));
            }
            if c.name.contains('.') {
                return Err(FeatureError::new(
                    &label,
                    Some("name"),
                    "a name without '.' (it separates a feature from its output)",
                ));
            }
            if configs[..i].iter().any(|o| o.name == c.name) {
                return Err(FeatureError::new(
                    &label,
                    Some("name"),
                    "a unique name; it is used twice",
                ));
            }
            let kind = FeatureKind::parse(c)?;
            let kernel = kind.build().map_err(|e| {
                let key = FeatureConfig::PARAMS.into_iter().find(|k| *k == e.key);
                FeatureError::new(&c.name, key, e.expected)
            })?;
            kinds.push(kind);
            protos.push(kernel);
        }
        let output_names = |i: usize| protos[i].outputs();

        // Resolve inputs to (feature index, output index) or bar fields, before ordering.
        enum Ref {
            Bar(BarField),
            Feature(usize, usize),
        }
        let mut refs: Vec<Vec<Ref>> = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let written: Vec<String> = match (&c.input, &c.inputs) {
                (Some(_), Some(_)) => {
                    return Err(FeatureError::new(
                        &c.name,
                        Some("inputs"),
                        "either `input` or `inputs`, not both",
                    ));
                }
                (Some(one), None) => vec![one.clone()],
                (None, Some(many)) => many.clone(),
                (None, None) => kinds[i]
                    .default_inputs()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            };
            let needed = protos[i].inputs();
            if written.len() != needed {
                return Err(FeatureError::new(
                    &c.name,
                    Some(if needed == 1 { "input" } else { "inputs" }),
                    format!(
                        "{needed} input(s) for kind {:?}, found {}",
                        c.kind,
                        written.len()
                    ),
                ));
            }
            let mut resolved = Vec::with_capacity(written.len());
            for text in &written {
                if let Some(field) = BarField::parse(text) {
                    resolved.push(Ref::Bar(field));
                    continue;
                }
                let (feature, output) = text
                    .split_once('.')
                    .map_or((text.as_str(), None), |(f, o)| (f, Some(o)));
                let Some(j) = configs.iter().position(|o| o.name == feature) else {
                    return Err(FeatureError::new(
                        &c.name,
                        Some("input"),
                        format!(
                            "a bar field (open, high, low, close, volume, typical) or another feature's name, found {}",
                            market_data::text::quoted(text)
                        ),
                    ));
                };
                let outputs = output_names(j);
                let k = match output {
                    None if outputs.len() == 1 => 0,
                    None => {
                        return Err(FeatureError::new(
                            &c.name,
                            Some("input"),
                            format!(
                                "one output of {feature:?}, which has several: {}",
                                outputs
                                    .iter()
                                    .map(|o| format!("{feature}.{o}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                    Some(o) => outputs.iter().position(|x| *x == o).ok_or_else(|| {
                        FeatureError::new(
                            &c.name,
                            Some("input"),
                            format!(
                                "an output of {feature:?} ({}), found {}",
                                outputs.join(", "),
                                market_data::text::quoted(o)
                            ),
                        )
                    })?,
                };
                resolved.push(Ref::Feature(j, k));
            }
            refs.push(resolved);
        }

        // Order: a feature comes after every feature it reads; ties keep the config order.
        let n = configs.len();
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while order.len() < n {
            let next = (0..n).find(|&i| {
                !placed[i]
                    && refs[i].iter().all(|r| match r {
                        Ref::Bar(_) => true,
                        Ref::Feature(j, _) => placed[*j],
                    })
            });
            match next {
                Some(i) => {
                    placed[i] = true;
                    order.push(i);
                }
                None => {
                    let stuck: Vec<&str> = (0..n)
                        .filter(|i| !placed[*i])
                        .map(|i| configs[i].name.as_str())
                        .collect();
                    return Err(FeatureError::new(
                        stuck[0],
                        Some("input"),
                        format!(
                            "inputs without a cycle; these features depend on each other in a loop: {}",
                            stuck.join(", ")
                        ),
                    ));
                }
            }
        }

        let mut first_column = vec![0; n];
        let mut columns = Vec::new();
        for &i in &order {
            first_column[i] = columns.len();
            let outs = output_names(i);
            if outs.len() == 1 {
                columns.push(configs[i].name.clone());
            } else {
                columns.extend(outs.iter().map(|o| format!("{}_{o}", configs[i].name)));
            }
        }
        let mut nodes = Vec::with_capacity(n);
        for &i in &order {
            let c = &configs[i];
            let inputs = refs[i]
                .iter()
                .map(|r| match r {
                    Ref::Bar(f) => Source::Bar(*f),
                    Ref::Feature(j, k) => Source::Column(first_column[*j] + k),
                })
                .collect();
            nodes.push(NodeSpec {
                config: c.clone(),
                kind: kinds[i],
                kernel: protos[i].clone(),
                inputs,
                first_column: first_column[i],
                outputs: output_names(i).len(),
                nan_is_error: parse_on_nan(c)?,
                max_gap_ns: c.max_gap.as_deref().map(|g| parse_gap(c, g)).transpose()?,
            });
        }
        Ok(Self { nodes, columns })
    }

    /// Returns the column names, in column order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Returns the index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Returns how many bars a column needs before its first value, at least: its indicator's
    /// warm-up after its inputs' (an estimate from below: a NaN or a gap restarts it).
    pub fn bars_needed(&self, column: usize) -> usize {
        let Some(node) = self
            .nodes
            .iter()
            .find(|n| (n.first_column..n.first_column + n.outputs).contains(&column))
        else {
            return 1;
        };
        let inputs = node
            .inputs
            .iter()
            .map(|s| match *s {
                Source::Bar(_) => 1,
                Source::Column(c) => self.bars_needed(c),
            })
            .max()
            .unwrap_or(1);
        inputs + node.kernel.warmup().max(1) - 1
    }

    /// Returns the compiled features, in evaluation order.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// Returns true when there are no features.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl fmt::Display for PipelineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.columns.join(", "))
    }
}

fn parse_on_nan(c: &FeatureConfig) -> Result<bool, FeatureError> {
    match c.on_nan.as_deref() {
        None | Some("reset") => Ok(false),
        Some("error") => Ok(true),
        Some(other) => Err(FeatureError::new(
            &c.name,
            Some("on_nan"),
            format!(
                "\"reset\" or \"error\", found {}",
                market_data::text::quoted(other)
            ),
        )),
    }
}

fn parse_gap(c: &FeatureConfig, text: &str) -> Result<i64, FeatureError> {
    market_data::synthetic::parse_interval(text).ok_or_else(|| {
        FeatureError::new(
            &c.name,
            Some("max_gap"),
            format!(
                "a duration such as \"90m\", \"2h\" or \"3d\", found {}",
                market_data::text::quoted(text)
            ),
        )
    })
}
