from .widget import Widget

__all__ = ['Widget']
