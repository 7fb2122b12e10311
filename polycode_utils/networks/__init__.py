"""Networks: the ResNet autoencoder and its data, training, evaluation and dropout grid, activations, the
error-correcting network, the dropout toy models, and the language model's measurement."""
