"""Training: options, the fine-tuning loop, losses, optimizer, distillation teacher, tf.distribute."""
