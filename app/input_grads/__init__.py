"""Derivatives ▸ Input Gradients: saliency maps, feature visualisation and FGSM examples (graphcore.input_grads)."""
