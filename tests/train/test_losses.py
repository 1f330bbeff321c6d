import math

import pytest
import torch

from m5ser.train.config import LossConfig
from m5ser.train.losses import adversary_lambda, grad_reverse, stage1_losses, supcon, symmetric_infonce


def test_infonce_two_orthogonal_pairs_by_hand():
    # s_i . t_j = 1 on the diagonal, 0 off it; t = 1: each row is -log(e / (e + 1)).
    s = torch.eye(2)
    expected = -math.log(math.e / (math.e + 1))
    assert symmetric_infonce(s, s, None, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_infonce_label_aware_targets_by_hand():
    # Three clips, the first two share a label: their target mass is split over both columns.
    s = torch.eye(3)
    labels = torch.tensor([0, 0, 1])
    e = math.e
    row_same = -0.5 * (math.log(e / (e + 2)) + math.log(1 / (e + 2)))
    row_other = -math.log(e / (e + 2))
    expected = (2 * row_same + row_other) / 3  # both directions are equal here (symmetric logits)
    assert symmetric_infonce(s, s, labels, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_supcon_by_hand():
    # z = [e1, e1, e2], labels [0, 0, 1], t = 1.
    # anchor 0: positive 1 (sim 1), others {1: sim 1, 2: sim 0} -> -log(e / (e + 1)); anchor 1 same;
    # anchor 2 has no positive and is skipped.
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    loss = supcon(z, torch.tensor([0, 0, 1]), temperature=1.0)
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)), rel=1e-6)


def test_supcon_cross_language_weighting_by_hand():
    # Anchor 0 has positives 1 (same lang, sim 1 -> logp a) and 2 (other lang, sim 0 -> logp b).
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels, langs = torch.tensor([0, 0, 0]), torch.tensor([0, 0, 1])
    e = math.e
    a, b = math.log(e / (e + 1)), math.log(1 / (e + 1))  # anchors 0 and 1 see the same sims
    # anchor 2: positives 0 and 1 both cross-language, sims 0 -> each log(1/2)
    w = 3.0
    anchor01 = -(a + w * b) / (1 + w)
    anchor2 = -math.log(0.5)
    expected = (2 * anchor01 + anchor2) / 3
    loss = supcon(z, labels, langs, temperature=1.0, cross_lang_weight=w)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_supcon_without_positives_is_zero_with_grad():
    z = torch.eye(3, requires_grad=True)
    loss = supcon(z, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and z.grad is not None


def test_gradient_reversal_flips_and_scales_the_sign():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (grad_reverse(x, 0.5) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-0.5, -1.0, -1.5]))
    y = torch.tensor([2.0], requires_grad=True)
    assert torch.equal(grad_reverse(y, 1.0), y)  # identity forward


@pytest.mark.parametrize(("progress", "ramp", "expected"), [(0.0, 0.5, 0.0), (0.5, 0.5, 0.9999), (2.0, 0.5, 0.9999)])
def test_adversary_schedule(progress, ramp, expected):
    assert adversary_lambda(progress, ramp) == pytest.approx(expected, abs=1e-4)


def test_stage1_losses_dict_and_weighted_total():
    torch.manual_seed(0)
    out = {
        "speech": torch.nn.functional.normalize(torch.randn(4, 3), dim=-1),
        "text": torch.nn.functional.normalize(torch.randn(4, 3), dim=-1),
        "embed": torch.nn.functional.normalize(torch.randn(4, 5), dim=-1),
        "logits": torch.randn(4, 2),
        "speaker_logits": torch.randn(4, 3),
        "domain_logits": torch.randn(6),
    }
    batch = {
        "label": torch.tensor([0, 1, 0, 1]),
        "lang": torch.tensor([0, 0, 1, 1]),
        "speaker": torch.tensor([0, 1, 2, 0]),
        "domain": torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    }
    cfg = LossConfig(infonce=1.0, supcon=0.5, ce=2.0, adv=0.25, domain=0.5, label_smoothing=0.0)
    terms = stage1_losses(out, batch, cfg)
    assert set(terms) == {"infonce", "supcon", "ce", "adv", "domain", "total"}
    expected = (
        terms["infonce"] + 0.5 * terms["supcon"] + 2.0 * terms["ce"] + 0.25 * terms["adv"] + 0.5 * terms["domain"]
    )
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out["domain_logits"], batch["domain"])
    assert terms["domain"].item() == pytest.approx(bce.item()) and terms["domain"].item() > 0
    assert terms["total"].item() == pytest.approx(expected.item())
    assert terms["ce"].item() == pytest.approx(torch.nn.functional.cross_entropy(out["logits"], batch["label"]).item())
    off = stage1_losses(out, batch, LossConfig(supcon=0.0, adv=0.0))
    assert off["supcon"].item() == 0.0 and off["adv"].item() == 0.0 and off["domain"].item() == 0.0
