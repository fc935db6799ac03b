"""Participant-side training: model specs, task packages, local data, training, privacy.

Nothing here talks to the chain or the network; torch is imported only where
a model is built or trained.
"""

from client_kit.training.data import (
    Dataset,
    DigitsFederation,
    InvalidDataset,
    digits_mlp_spec,
    digits_shards,
    load_dataset,
    validate_dataset,
)
from client_kit.training.privacy import InvalidPrivacyConfig, PrivacyReport, privatize_update
from client_kit.training.spec import (
    IncompatibleWeights,
    InvalidModelSpec,
    LayerSpec,
    ModelSpec,
    build_model,
    initial_weights,
)
from client_kit.training.task import InvalidTaskPackage, TaskPackage, TrainingConfig
from client_kit.training.train import TrainingDiverged, TrainResult, evaluate, train_local

__all__ = [
    "Dataset",
    "DigitsFederation",
    "IncompatibleWeights",
    "InvalidDataset",
    "InvalidModelSpec",
    "InvalidPrivacyConfig",
    "InvalidTaskPackage",
    "LayerSpec",
    "ModelSpec",
    "PrivacyReport",
    "TaskPackage",
    "TrainResult",
    "TrainingConfig",
    "TrainingDiverged",
    "build_model",
    "digits_mlp_spec",
    "digits_shards",
    "evaluate",
    "initial_weights",
    "load_dataset",
    "privatize_update",
    "train_local",
    "validate_dataset",
]
