//! Models: machine learning on feature pipelines with candle: datasets of feature windows, labels from
//! the future (training only), standardisation, MLP / GRU / LSTM / temporal-convolution /
//! transformer classifiers, seeded training, walk-forward evaluation with an embargo, and saved
//! models.
//!
//! The flow for one walk-forward fold: [`walk_forward`] gives the rows, [`prepare_fold`] fits
//! the standardisation (and volatility terciles) on the training rows and builds the train,
//! validation and test [`Dataset`]s, [`train`] fits a [`TrendModel`], [`predict`] and
//! [`Metrics`] score it next to [`MajorityBaseline`] and [`last_return_sign`], and [`save`]
//! writes it with its [`ModelMetadata`]. At run time a strategy needs only [`load`],
//! [`Standardizer`], [`Windows`] (or its own rolling window) and [`TrendModel::predict_proba`].
//! Processes that run models should set `RAYON_NUM_THREADS`: without it candle re-reads
//! `/proc/cpuinfo` on every matrix product (see [`candle_threads_configured`]).
//!
//! Owns: datasets, labels, training, walk-forward folds, saved artifacts, inference and
//! explanations ([`explain`]). The only crate that depends on candle.
//! Never depends on: tokio (live), report rendering, or any strategy.

#![forbid(unsafe_code)]

pub mod explain;

mod artifact;
mod baselines;
mod config;
mod dataset;
mod error;
mod eval;
mod folds;
mod guards;
mod init;
pub mod labels;
mod model;
mod occluder;
pub mod planted;
mod prepare;
mod significance;
mod standardize;
mod temperature;
mod train;
mod transformer;

pub use artifact::{
    FORMAT_VERSION, Lineage, LoadedModel, METADATA_FILE, ModelMetadata, TrainingPeriod,
    WEIGHTS_FILE, load, load_saved_columns, model_id, save,
};
pub use baselines::{
    HAR_LAGS, LogisticRegression, VolatilityBaselines, least_squares, trailing_volatility,
};
pub use config::{
    ClassWeights, GuardMode, LrSchedule, ModelConfig, ModelKind, Scheme, TrainingConfig,
    TransformerShape,
};
pub use dataset::{Dataset, Windows, column_indices, select_columns};
pub use error::{MlError, Result};
pub use eval::{MajorityBaseline, Metrics, argmax, last_return_sign, predict};
pub use folds::{Fold, split_validation, walk_forward};
pub use guards::check_fold;
pub use init::check_init;
#[cfg(test)]
pub(crate) use model::exp_f32;
pub use model::{TrendModel, candle_threads_configured};
pub(crate) use model::{softmax_of, softmax_rows};
pub use occluder::Occluder;
pub use prepare::{FoldData, Series, Target, prepare_fold, prepare_universe};
pub use significance::{DieboldMariano, erfc};
pub use standardize::Standardizer;
pub use temperature::{apply_temperature, fit_temperature};
pub use train::{
    CLASSES, EpochReport, FineTuned, PooledTraining, TrainReport, fine_tune, train, train_pooled,
};

#[cfg(test)]
mod tests;
