from .synthetic import SHAPES_CLASSES, draw_shapes_image, generate_shapes_dataset

__all__ = ['SHAPES_CLASSES', 'draw_shapes_image', 'generate_shapes_dataset']
