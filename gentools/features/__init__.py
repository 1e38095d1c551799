"""Feature extraction: image inputs, resizing, backbones, weights and the extraction pipeline."""
