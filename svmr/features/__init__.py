"""TSM feature extraction: the temporal shift, two backbones, and the extractor."""
from .extractor import ExtractorConfig, FeatureExtractor, FeatureSequence
from .temporal_shift import TemporalShift, temporal_shift

__all__ = ["ExtractorConfig", "FeatureExtractor", "FeatureSequence", "TemporalShift", "temporal_shift"]
