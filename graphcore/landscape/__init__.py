"""Loss landscapes: the loss over a plane through the weights, and optimizer paths across it."""
