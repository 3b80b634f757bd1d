"""Learning-rate schedules, and Rectified Adam: the optimizer the paper trains its server
model with."""
import tensorflow as tf
import tf_keras as keras


def learning_rate(rate, schedule, steps):
    """The optimizer's learning rate: ``rate`` throughout ("constant"), or cosine decay from
    ``rate`` to 0 over ``steps`` training steps ("cosine"; names in ``options.LR_SCHEDULES``)."""
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(int(steps), 1))
    return rate


@keras.saving.register_keras_serializable(package="antispoof")
class RectifiedAdam(keras.optimizers.Optimizer):
    """Rectified Adam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", Algorithm 2). While the variance of the adaptive rate is intractable (ρ_t ≤ 4 in
    the first few steps) it takes bias-corrected momentum steps, as SGD with momentum; after
    that Adam steps scaled by the rectification term r_t."""

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="RectifiedAdam", **kwargs):
        super().__init__(name=name, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._built = True
        self._momentums = [self.add_variable_from_reference(v, "m") for v in var_list]
        self._velocities = [self.add_variable_from_reference(v, "v") for v in var_list]

    def update_step(self, gradient, variable):
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        gradient = tf.convert_to_tensor(gradient)
        m.assign_add((gradient - m) * (1 - beta_1))
        v.assign_add((tf.square(gradient) - v) * (1 - beta_2))
        m_hat = m / (1 - beta_1_power)
        rho_inf = 2 / (1 - beta_2) - 1
        rho = rho_inf - 2 * step * beta_2_power / (1 - beta_2_power)
        rect = tf.sqrt(tf.maximum(rho - 4, 0) * tf.maximum(rho - 2, 0) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho))
        adaptive = rect * m_hat * tf.sqrt(1 - beta_2_power) / (tf.sqrt(v) + self.epsilon)
        variable.assign_sub(lr * tf.where(rho > 4, adaptive, m_hat))

    def get_config(self):
        config = super().get_config()
        config.update(learning_rate=self._serialize_hyperparameter(self._learning_rate),
                      beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config
