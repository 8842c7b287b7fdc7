"""The ViT case of bench/patches.py: does the PatchLoader keep a GPU busy? A ViT-B/16-shaped
stack in plain torch (torchvision is not needed): a 16 x 16 stride-16 convolution to 768
channels, a class token and learned positions, 12 pre-norm encoder layers (12 heads, MLP 3072,
GELU), a final norm and a 1000-way head; float16, inference mode, batches of 256 x 256 patches
(256 tokens + 1). GPU busy = the forward passes' time on the GPU (CUDA events around each, summed)
over the wall time of the loop that gets each batch from the loader and launches its forward
(gpu_busy; gpu_busy_steady counts the wall time from the first batch's arrival, leaving out the
loader's start);
the same forwards on one resident batch give the model's own rate for comparison.
"""
import time

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def make_model(torch):
    nn = torch.nn

    class ViT(nn.Module):
        def __init__(self, dim=768, depth=12, heads=12, mlp=3072, patch=16, image=256):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, patch, patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
            layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 1000)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    return ViT().cuda().half().eval()


def run(path, locs, batch, batches, record):
    what = f"ViT-B/16-shaped forward (plain torch, fp16, batch {batch}) fed by PatchLoader"
    try:
        import torch
    except ImportError as e:
        return record("vit", what, skipped=f"torch not importable: {e}")
    if not torch.cuda.is_available():
        return record("vit", what, skipped="no CUDA GPU for torch")
    import slidestream

    model = make_model(torch)
    n = min(len(locs), batch * batches)
    with torch.inference_mode():
        resident = torch.randn(batch, 3, 256, 256, device="cuda", dtype=torch.float16)
        for _ in range(3):
            model(resident)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n // batch):
            model(resident)
        torch.cuda.synchronize()
        resident_s = time.perf_counter() - t0
        loader = slidestream.PatchLoader([path], locs[:n], size=256, batch_size=batch,
                                         device="cuda", dtype="float16", normalize=IMAGENET,
                                         prefetch=4)
        events = []
        first_batch_at = None
        t0 = time.perf_counter()
        for b in loader:
            if first_batch_at is None:
                first_batch_at = time.perf_counter()
            x = torch.from_dlpack(b.patches).permute(0, 3, 1, 2)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            events.append((start, end))
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    busy = sum(s.elapsed_time(e) for s, e in events) / 1e3
    # Steady state: from the first batch's arrival (the loader's start, opening the slide and
    # filling its prefetch queue, happens once per run, not once per batch).
    steady_wall = wall - (first_batch_at - t0)
    return record("vit", what, ours=True, seconds=round(wall, 4), patches=n,
                  patches_per_s=round(n / wall, 1), gpu_busy=round(busy / wall, 3),
                  gpu_busy_steady=round(busy / steady_wall, 3),
                  first_batch_s=round(first_batch_at - t0, 4),
                  resident_patches_per_s=round(n / resident_s, 1),
                  note="ViT-B/16 shape in plain torch (no torchvision)")
