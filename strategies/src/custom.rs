//! Strategies from outside this crate: the trait a user's Rust strategy implements, and the
//! process-wide registry that makes it selectable by name in a config, like the built-ins.
//!
//! A user crate implements [`UserStrategy`] and hands [`Registration::of`] to the command line
//! (`cli::main_with`), which registers it before reading any config; every command (`backtest`,
//! `sweep`, `paper`, `live`, `features`, `train`) then finds it by its `name`.

use crate::registry::{BuildError, BuiltStrategy, STRATEGY_NAMES};
use engine::{RangeError, Strategy};
use features::{FeatureConfig, FeatureError, PipelineSpec, with_required};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};

/// One parameter of a strategy, as `quant strategies` lists it and `quant init` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDoc {
    /// Its key in `[strategy.params]`.
    pub name: &'static str,
    /// Its type, as a user writes it (`integer`, `number`, `string`, `"market" | "limit"`).
    pub ty: &'static str,
    /// Its default as TOML, or `None` when it must be given (or is optional).
    pub default: Option<&'static str>,
    /// A starter value as TOML that `quant init` writes for it (`NAME` is the config's name).
    pub example: Option<&'static str>,
    /// One line on what it does.
    pub doc: &'static str,
}

impl ParamDoc {
    /// Returns a parameter with a default.
    pub const fn optional(
        name: &'static str,
        ty: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        Self {
            name,
            ty,
            default: Some(default),
            example: None,
            doc,
        }
    }

    /// Returns a parameter that must be given, with a starter value for `quant init`.
    pub const fn required(
        name: &'static str,
        ty: &'static str,
        example: &'static str,
        doc: &'static str,
    ) -> Self {
        Self {
            name,
            ty,
            default: None,
            example: Some(example),
            doc,
        }
    }
}

/// A strategy written in Rust outside this crate, with typed parameters.
pub trait UserStrategy: Strategy + Send + Sized + 'static {
    /// Its name in `[strategy] name = "..."`.
    const NAME: &'static str;
    /// One line on what it does.
    const ABOUT: &'static str;
    /// Its parameters, for `quant strategies` and `quant init`.
    const PARAMS: &'static [ParamDoc] = &[];

    /// Its `[strategy.params]` table (serde reads it: use `deny_unknown_fields` to refuse typos).
    type Params: DeserializeOwned + Serialize;

    /// Checks the parameters' ranges.
    ///
    /// # Errors
    /// Names the parameter out of range, as `strategy.params.<name>`.
    fn validate(params: &Self::Params) -> Result<(), RangeError> {
        let _ = params;
        Ok(())
    }

    /// Returns the features it reads, added to the config's own.
    fn features(params: &Self::Params) -> Vec<FeatureConfig> {
        let _ = params;
        Vec::new()
    }

    /// Returns the strategy reading its features from `pipeline` (look columns up here, once).
    ///
    /// # Errors
    /// Names a feature it needs that the pipeline lacks.
    fn build(params: &Self::Params, pipeline: &PipelineSpec) -> Result<Self, FeatureError>;
}

/// A strategy ready to be registered: its name, documentation, and how to read, check and
/// build it from a `[strategy.params]` table.
#[derive(Clone)]
pub struct Registration(Arc<dyn Entry>);

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registration").field(&self.0.name()).finish()
    }
}

impl Registration {
    /// Returns the registration of `S`.
    pub fn of<S: UserStrategy>() -> Self {
        Self(Arc::new(Typed::<S>(std::marker::PhantomData)))
    }

    /// Returns its name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Returns its one-line description.
    pub fn about(&self) -> &'static str {
        self.0.about()
    }

    /// Returns its parameters.
    pub fn params(&self) -> &'static [ParamDoc] {
        self.0.params()
    }

    pub(crate) fn validate(&self, params: &toml::Table) -> Result<(), RangeError> {
        self.0.validate(params)
    }

    pub(crate) fn build(
        &self,
        params: &toml::Table,
        user: &[FeatureConfig],
    ) -> Result<BuiltStrategy, BuildError> {
        self.0.build(params, user)
    }
}

/// A name registered twice (or a built-in's name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy name {0:?} is registered twice: names must be unique, built-ins included")]
pub struct DuplicateName(pub String);

static REGISTERED: RwLock<Vec<Registration>> = RwLock::new(Vec::new());

/// Registers a strategy for this process, so configs can name it.
///
/// # Errors
/// When a built-in or an earlier registration has the same name; nothing is registered then.
pub fn register(registration: Registration) -> Result<(), DuplicateName> {
    let name = registration.name();
    let mut all = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if STRATEGY_NAMES.contains(&name) || all.iter().any(|r| r.name() == name) {
        return Err(DuplicateName(name.to_string()));
    }
    all.push(registration);
    Ok(())
}

/// Returns the registration of `name`, if one.
pub fn registered(name: &str) -> Option<Registration> {
    let all = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    all.iter().find(|r| r.name() == name).cloned()
}

/// Returns every registration, in registration order.
pub fn registrations() -> Vec<Registration> {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A registration with its type erased.
trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn params(&self) -> &'static [ParamDoc];
    fn validate(&self, params: &toml::Table) -> Result<(), RangeError>;
    fn build(
        &self,
        params: &toml::Table,
        user: &[FeatureConfig],
    ) -> Result<BuiltStrategy, BuildError>;
}

struct Typed<S>(std::marker::PhantomData<fn() -> S>);

impl<S: UserStrategy> Typed<S> {
    fn read(params: &toml::Table) -> Result<S::Params, RangeError> {
        toml::Value::Table(params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| RangeError::new("strategy.params", e.message()))
    }
}

impl<S: UserStrategy> Entry for Typed<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn about(&self) -> &'static str {
        S::ABOUT
    }

    fn params(&self) -> &'static [ParamDoc] {
        S::PARAMS
    }

    fn validate(&self, params: &toml::Table) -> Result<(), RangeError> {
        S::validate(&Self::read(params)?)
    }

    fn build(
        &self,
        params: &toml::Table,
        user: &[FeatureConfig],
    ) -> Result<BuiltStrategy, BuildError> {
        // `validate` read these params already: a failure here is the same refusal.
        let params = Self::read(params)
            .map_err(|e| BuildError::Feature(FeatureError::new(S::NAME, None, e.expected)))?;
        let pipeline = Arc::new(PipelineSpec::new(&with_required(
            user,
            S::features(&params),
        )?)?);
        let strategy: Box<dyn Strategy + Send> = Box::new(S::build(&params, &pipeline)?);
        Ok(BuiltStrategy {
            strategy,
            pipeline,
            models: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{Ctx, EngineEvent, Intents, StrategyError};

    /// A strategy that does nothing, under any name.
    macro_rules! idle {
        ($ty:ident, $name:literal) => {
            struct $ty;
            impl Strategy for $ty {
                fn name(&self) -> &str {
                    $name
                }
                fn on_event(
                    &mut self,
                    _: &EngineEvent,
                    _: &Ctx<'_>,
                    _: &mut Intents,
                ) -> Result<(), StrategyError> {
                    Ok(())
                }
            }
            impl UserStrategy for $ty {
                const NAME: &'static str = $name;
                const ABOUT: &'static str = "does nothing";
                type Params = std::collections::BTreeMap<String, f64>;
                fn build(_: &Self::Params, _: &PipelineSpec) -> Result<Self, FeatureError> {
                    Ok($ty)
                }
            }
        };
    }

    idle!(Twice, "registered_twice");
    idle!(Builtin, "sma_crossover");

    #[test]
    fn a_name_is_registered_once_and_never_a_built_ins() {
        assert_eq!(register(Registration::of::<Twice>()), Ok(()));
        assert_eq!(
            register(Registration::of::<Twice>()),
            Err(DuplicateName("registered_twice".into()))
        );
        assert_eq!(
            register(Registration::of::<Builtin>()),
            Err(DuplicateName("sma_crossover".into()))
        );
        assert!(registered("registered_twice").is_some());
        let config: crate::StrategyConfig =
            toml::from_str("name = \"registered_twice\"\n[params]\nx = 1.0\n").unwrap();
        assert_eq!(config.name(), "registered_twice");
        config.validate().unwrap();
        config.build(&[]).unwrap();
    }
}
