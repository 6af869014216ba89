"""The app's feature extractor: one per process (the server's, each worker's), shared by every
visitor, on the device ``SVMR_DEVICE`` names (``auto`` by default: the GPU when there is one)."""
from __future__ import annotations

import functools
import os

from svmr.device import resolve_device
from svmr.features import ExtractorConfig, FeatureExtractor


@functools.lru_cache(maxsize=1)
def extractor() -> FeatureExtractor:
    return FeatureExtractor(ExtractorConfig(), device=resolve_device(os.environ.get("SVMR_DEVICE", "auto")))
