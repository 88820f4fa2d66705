#!/usr/bin/python3
"""Grad-CAM references for tests/nets/test_gradcam.c (run with /usr/bin/python3; needs
Debian's python3-torch and python3-torchvision):

    /usr/bin/python3 tests/nets/make_gradcam_fixtures.py     # writes tests/nets/fixtures/gradcam_*

The networks and their weights are those of make_fixtures.py (weights generated from a hash,
so they are not stored; the C test generates them again with fixtures.h). Each network runs in
float64 and eval mode; for each image and stage, Grad-CAM of class CLS is computed the usual
way with autograd: A = the stage's output, alpha_c = mean over positions of d logit_cls / dA_c,
cam = ReLU(sum_c alpha_c A_c), upsampled to the input's size with
F.interpolate(mode="bilinear", align_corners=False). Stored per network, as in make_fixtures
(<name>.txt index over <name>.bin, float32):

    meta                n c h w classes cls (the first class with non-zero maps)
    x                   the input (absent for the MobileNet: generated as in make_fixtures)
    logits              eval-mode logits [n, classes]
    cam:<stage>         [n, h', w'] before upsampling
    up:<stage>          [n, h, w] after upsampling
    grad:<stage>        d logit_cls / dA of the first image [c, h', w'] (some stages): the
                        gradient itself, position by position, which the maps only average
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (sets OPENBLAS_CORETYPE before torch)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402


def gradcam(model, module, x, cls):
    got = {}
    hook = module.register_forward_hook(lambda m, i, o: got.__setitem__("a", o))
    out = model(x)
    hook.remove()
    a = got["a"]
    g = torch.autograd.grad(out[0, cls], a)[0]
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * a).sum(dim=1, keepdim=True))
    up = F.interpolate(cam, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)
    gradcam.last_grad = g.detach()[0]
    return out.detach(), cam.detach()[0, 0], up.detach()[0, 0]


def first_class_with_maps(model, x, classes, stages):
    """The first class whose map is non-zero at every stage for every image (a map that ReLU
    clears entirely would check nothing)."""
    for cls in range(classes):
        if all(float(gradcam(model, getattr(model, s), x[i:i + 1].double(), cls)[2].max()) > 0
               for i in range(x.shape[0]) for s in stages):
            return cls
    raise SystemExit("no class has non-zero maps everywhere")


def make(name, model, x, classes, stages, x_generated=False, grad_stages=()):
    torch.manual_seed(0)
    mf.load_generated(model)
    model = model.double().eval()
    cls = first_class_with_maps(model, x, classes, stages)
    w = mf.Writer(name)
    n, c, h, wd = x.shape
    w.add("meta", [n, c, h, wd, classes, cls])
    if not x_generated:
        w.add("x", x.numpy())
    logits, cams, ups = [], {s: [] for s in stages}, {s: [] for s in stages}
    grads = {}
    for i in range(n):
        xi = x[i:i + 1].double().clone().requires_grad_(False)
        for s in stages:
            out, cam, up = gradcam(model, getattr(model, s), xi, cls)
            cams[s].append(cam.numpy())
            ups[s].append(up.numpy())
            if i == 0:
                grads[s] = gradcam.last_grad.numpy()
        logits.append(out[0].numpy())
    w.add("logits", logits)
    for s in stages:
        w.add(f"cam:{s}", cams[s])
        w.add(f"up:{s}", ups[s])
        if grad_stages and s in grad_stages:
            w.add(f"grad:{s}", grads[s])
        mx = max(float(u.max()) for u in ups[s])
        print(f"{name} class {cls} {s}: cam {cams[s][0].shape}, max {mx:.4g}", file=sys.stderr)
    w.close()


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(17)
    # sizes whose upsampling scale is not an integer (30 -> 15 -> 8: 3.75); square for the CIFAR
    # ResNet, whose published forward pools with a kernel of the width (a non-square map would
    # be pooled over its top square only)
    make("gradcam_resnet20", mf.CifarResNet([3, 3, 3], 10), torch.randn(2, 3, 30, 30, generator=g),
         10, ["layer3", "layer2", "layer1"], grad_stages=("layer2", "layer1"))
    # non-square, odd sizes on both axes of the stages
    make("gradcam_resnet18", torchvision.models.resnet18(num_classes=5),
         torch.randn(2, 3, 72, 56, generator=g), 5, ["layer4", "layer3"],
         grad_stages=("layer3",))
    make("gradcam_mobilenet", mf.KerasMobileNetV1(0.25, 5),
         torch.from_numpy(mf.gen_tensor("input", (2, 3, 67, 54), (1.0, 0.0))), 5,
         ["block13", "block11"], x_generated=True)


if __name__ == "__main__":
    main()
