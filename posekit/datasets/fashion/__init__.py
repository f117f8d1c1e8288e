"""Fashion (clothing) landmark datasets."""
from .deepfashion import DeepFashion2Dataset, DeepFashionDataset

__all__ = ['DeepFashion2Dataset', 'DeepFashionDataset']
