"""RealNVP: the normalising flow that RLE uses to model the error density.

Six affine coupling layers on 2-D points, alternating which coordinate is
kept; a standard 2-D normal as the prior. Parameter and buffer names
(``loc``, ``cov``, ``mask``, ``s.i.j``, ``t.i.j``) are MMPose's, so RLE
checkpoints load into :class:`posekit.models.losses.RLELoss`.
"""
import torch
from torch import Tensor, distributions, nn


def _scale_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64),
                         nn.LeakyReLU(), nn.Linear(64, 2), nn.Tanh())


def _translation_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64),
                         nn.LeakyReLU(), nn.Linear(64, 2))


class RealNVP(nn.Module):
    """Density of 2-D points through an invertible flow to a normal prior."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer('loc', torch.zeros(2))
        self.register_buffer('cov', torch.eye(2))
        # Row i keeps the coordinate where it is 1 and transforms the other.
        self.register_buffer(
            'mask', torch.tensor([[0, 1], [1, 0]] * 3, dtype=torch.float32))
        self.s = nn.ModuleList(_scale_net() for _ in range(len(self.mask)))
        self.t = nn.ModuleList(
            _translation_net() for _ in range(len(self.mask)))
        self.init_weights()

    def init_weights(self) -> None:
        """Near-zero couplings (Xavier, gain 0.01): the flow starts close to
        the identity."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, gain=0.01)

    def backward_p(self, x: Tensor):
        """Map data points (M, 2) to the latent space.

        Returns:
            tuple: z (M, 2) and log|det dz/dx| (M,).
        """
        z = x
        log_det = x.new_zeros(x.shape[0])
        for i in reversed(range(len(self.t))):
            keep = self.mask[i]
            z_kept = keep * z
            s = self.s[i](z_kept) * (1 - keep)
            t = self.t[i](z_kept) * (1 - keep)
            z = (1 - keep) * (z - t) * torch.exp(-s) + z_kept
            log_det = log_det - s.sum(dim=1)
        return z, log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """log density of points (M, 2), shape (M,)."""
        z, log_det = self.backward_p(x)
        prior = distributions.MultivariateNormal(self.loc, self.cov)
        return prior.log_prob(z) + log_det
