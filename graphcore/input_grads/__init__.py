"""Backprop to the input: saliency maps, feature visualisation by gradient ascent, and FGSM examples.

The lecture's "other uses for backprop": the same reverse sweep that trains the weights, taken with
respect to an Input instead (see docs/input-gradients.md)."""

# The choices gradient ascent offers, here so that the CLI's parser reads them without importing torch.
STARTS = ("zeros", "noise", "sample")
OPTIMIZERS = ("sgd", "adam")
MAX_STEPS = 100_000
MAX_SAMPLE = 10_000_000  # the largest --sample asked for (the data says how many it has)
