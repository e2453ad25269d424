"""PyTorch training for cfasim datasets: models, CFA adapters, losses, distillation, trainer.

Needs the ``train`` extra (torch); ``cfasim`` itself never imports this package at import time.
"""
