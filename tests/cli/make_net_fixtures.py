"""Fixtures for the `workbench net forward|grad` CLI test (tests/cli/test_net_cli.c).

Run with Debian's interpreter: /usr/bin/python3 tests/cli/make_net_fixtures.py
Uses the CIFAR ResNet-20 definition of tests/nets/make_fixtures.py and the published weights in
../shared/weights/resnet20-12fca82f.th. Writes into tests/cli/data/:
  x.npy       [3, 3, 32, 32] float32 input (smooth random colour fields, CIFAR-normalised)
  t.npy       [3] int64 labels
  logits.npy  [3, 10] float32, eval-mode logits from PyTorch (float64 model, then float32)
  grad.txt    mean cross-entropy loss and the L2 norm of each trainable gradient with
              unfreeze layer3, BN frozen (eval-mode BN everywhere), float64 PyTorch
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nets"))
from make_fixtures import CifarResNet  # noqa: E402

OUT = os.path.join(HERE, "data")
os.makedirs(OUT, exist_ok=True)
ck = torch.load(os.path.join(HERE, "..", "..", "..", "shared", "weights", "resnet20-12fca82f.th"),
                map_location="cpu")
sd = {k[len("module."):]: v for k, v in ck["state_dict"].items()}
model = CifarResNet([3, 3, 3]).double()
model.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
model.eval()
g = torch.Generator().manual_seed(11)
img = F.interpolate(torch.rand(3, 3, 4, 4, generator=g), size=(32, 32), mode="bilinear",
                    align_corners=False)
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = ((img - mean) / std).float()
t = torch.tensor([3, 7, 1])
np.save(os.path.join(OUT, "x.npy"), x.numpy())
np.save(os.path.join(OUT, "t.npy"), t.numpy())
xd = x.double()
with torch.no_grad():
    np.save(os.path.join(OUT, "logits.npy"), model(xd).float().numpy())
for name, p in model.named_parameters():
    p.requires_grad = name.startswith("layer3.") or name.startswith("linear.")
loss = F.cross_entropy(model(xd), t)
loss.backward()
with open(os.path.join(OUT, "grad.txt"), "w") as f:
    f.write("loss %.12g\n" % loss.item())
    for name, p in model.named_parameters():
        if p.grad is not None:
            f.write("%s %.12g\n" % (name, p.grad.norm().item()))
