"""Derivatives ▸ Loss Landscape…: the loss over a plane of the weights and optimizer paths across it."""
