//! The golden-case file format: a network, its input and parameters, an objective, and the
//! values an implementation must reproduce.

use serde::{Deserialize, Serialize};

use crate::loss::{Loss, Objective};
use crate::network::{LayerParams, Network};
use crate::spec::NetworkSpec;
use crate::trace::Trace;
use crate::{CoreError, Tensor};

/// One case file. Exactly one of `upstream` and `loss` is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub about: String,
    pub network: NetworkSpec,
    pub input: Tensor,
    pub params: Vec<Option<LayerParams>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Tensor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

/// The values a case expects, indexed by layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    pub outputs: Vec<Tensor>,
    /// `grad_inputs[i]` is `dL/d(input of layer i)`.
    pub grad_inputs: Vec<Tensor>,
    pub grad_params: Vec<Option<LayerParams>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

impl Case {
    /// The objective the case gives.
    ///
    /// Errors: both or neither of `upstream` and `loss`.
    pub fn objective(&self) -> Result<Objective, CoreError> {
        match (&self.upstream, &self.loss) {
            (Some(g), None) => Ok(Objective::Upstream(g.clone())),
            (None, Some(l)) => Ok(Objective::Loss(l.clone())),
            (Some(_), Some(_)) => Err(CoreError::TwoObjectives),
            (None, None) => Err(CoreError::NoObjective),
        }
    }

    /// Builds the case's network.
    ///
    /// Errors: the errors of [`Network::new`].
    pub fn build(&self) -> Result<Network, CoreError> {
        Network::new(self.network.clone(), self.params.clone())
    }

    /// Writes a trace as a case whose `expected` holds the trace's own values.
    pub fn from_trace(
        name: &str,
        about: &str,
        network: &Network,
        trace: &Trace,
        objective: &Objective,
    ) -> Case {
        let gradients = trace.gradients();
        let (upstream, loss) = match objective {
            Objective::Upstream(g) => (Some(g.clone()), None),
            Objective::Loss(l) => (None, Some(l.clone())),
        };
        Case {
            name: name.to_string(),
            about: about.to_string(),
            network: network.spec().clone(),
            input: trace.input.clone(),
            params: network.params().to_vec(),
            upstream,
            loss,
            expected: Some(Expected {
                outputs: trace.outputs(),
                grad_inputs: gradients.grad_inputs,
                grad_params: gradients.grad_params,
                loss: trace.loss.as_ref().map(|l| l.value),
            }),
        }
    }
}
