"""Disentanglement metrics. Each takes codes (encoder means) as arrays and returns a result
object with a `to_dict()` of plain JSON numbers; none knows about files."""

from .beta_vae_metric import BetaVAEMetricResult, beta_vae_metric
from .dci import DCIResult, ImportanceScores, dci, dci_from_importance
from .dci_gbt import GBTDCIResult, dci_gbt
from .factor_vae_metric import FactorVAEMetricResult, factor_vae_metric
from .mig import MIGResult, mig
from .modularity_explicitness import ModularityExplicitnessResult, modularity_explicitness
from .placement import partition_bounds, placement
from .sap import SAPResult, sap

__all__ = [
    "BetaVAEMetricResult",
    "DCIResult",
    "FactorVAEMetricResult",
    "GBTDCIResult",
    "ImportanceScores",
    "MIGResult",
    "ModularityExplicitnessResult",
    "SAPResult",
    "beta_vae_metric",
    "dci",
    "dci_from_importance",
    "dci_gbt",
    "factor_vae_metric",
    "mig",
    "modularity_explicitness",
    "partition_bounds",
    "placement",
    "sap",
]
