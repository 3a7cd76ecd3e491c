#!/usr/bin/python3
"""PyTorch reference for bench_train: the same CAD autoencoder (src/learn/cad_autoencoder.*),
the same loss (src/learn/losses.*) and the same Adam + clipping step, timed on the same
synthetic batches. Prints one line: `samples_per_s <value>`.

Run with Debian's PyTorch 1.13 (apt-get install python3-torch):
  OMP_PROC_BIND=true /usr/bin/python3 bench/python/train_ae.py --threads 2 --steps 30
Written from the C++ code, not from DeepCAD's sources."""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

N_CMD, N_ARGS, ARG_CLASSES, MAX_LEN, MAX_EXT = 6, 16, 257, 60, 10
EOS, SOL, EXT, LINE, CIRCLE = 3, 4, 5, 0, 2
ARGS_MASK = torch.zeros(N_CMD, N_ARGS)
ARGS_MASK[0, :2] = 1
ARGS_MASK[1, :4] = 1
ARGS_MASK[2, [0, 1, 4]] = 1
ARGS_MASK[5, 5:] = 1


class SelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, key_padding=None, causal=False):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.h)
        if key_padding is not None:
            scores = scores.masked_fill(key_padding.view(b, 1, 1, s), float("-inf"))
        if causal:
            scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf"))
        w = torch.softmax(scores, -1)
        if key_padding is not None:
            w = torch.nan_to_num(w, 0.0)
        return self.out((w @ v).transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, d, h, ff, cond_dim=0):
        super().__init__()
        self.norm_attn, self.attn = nn.LayerNorm(d), SelfAttention(d, h)
        self.cond_proj = nn.Linear(cond_dim, d) if cond_dim else None
        self.norm_ff, self.ff_in, self.ff_out = nn.LayerNorm(d), nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x, key_padding=None, causal=False, cond=None):
        x = x + self.attn(self.norm_attn(x), key_padding, causal)
        if self.cond_proj is not None:
            x = x + self.cond_proj(cond).unsqueeze(1)
        return x + self.ff_out(F.gelu(self.ff_in(self.norm_ff(x))))


class Autoencoder(nn.Module):
    def __init__(self, d=128, h=8, ff=256, enc=3, dec=3, z=256, arg_dim=32):
        super().__init__()
        self.command = nn.Embedding(N_CMD, d)
        self.arg = nn.Embedding(ARG_CLASSES, arg_dim, padding_idx=0)
        self.arg_proj = nn.Linear(N_ARGS * arg_dim, d)
        self.position = nn.Embedding(MAX_LEN, d)
        self.group = nn.Embedding(MAX_EXT + 1, d)
        self.enc = nn.ModuleList([Block(d, h, ff) for _ in range(enc)])
        self.enc_norm = nn.LayerNorm(d)
        self.bottleneck = nn.Linear(d, z)
        self.queries = nn.Parameter(torch.randn(MAX_LEN, d) * 0.02)
        self.z_in = nn.Linear(z, d)
        self.dec = nn.ModuleList([Block(d, h, ff, z) for _ in range(dec)])
        self.dec_norm = nn.LayerNorm(d)
        self.command_head = nn.Linear(d, N_CMD)
        self.args_head = nn.Linear(d, N_ARGS * ARG_CLASSES)

    def forward(self, commands, args):
        b, s = commands.shape
        keep = (commands == EOS).long().cumsum(1) == 0
        is_ext = (commands == EXT).long()
        group = (is_ext.cumsum(1) - is_ext).clamp_max(MAX_EXT)
        x = (self.command(commands) + self.arg_proj(self.arg((args + 1).clamp(0, ARG_CLASSES - 1)).view(b, s, -1))
             + self.position(torch.arange(s).unsqueeze(0)) + self.group(group))
        for blk in self.enc:
            x = blk(x, ~keep)
        w = keep.float().unsqueeze(-1)
        z = torch.tanh(self.bottleneck((self.enc_norm(x) * w).sum(1) / w.sum(1).clamp_min(1.0)))
        y = self.queries[:s].unsqueeze(0) + self.z_in(z).unsqueeze(1)
        for blk in self.dec:
            y = blk(y, None, True, z)
        y = self.dec_norm(y)
        return self.command_head(y), self.args_head(y).view(b, s, N_ARGS, ARG_CLASSES)


def cad_loss(cmd_logits, args_logits, commands, args):
    eos = (commands == EOS).long()
    rows = (eos.cumsum(1) - eos) == 0
    cmd_loss = F.cross_entropy(cmd_logits[rows], commands[rows])
    mask = ARGS_MASK[commands].bool()
    args_loss = F.cross_entropy(args_logits[mask], (args + 1)[mask])
    return cmd_loss + 2.0 * args_loss


def synthetic_batch(gen, batch, length):
    """Same recipe as bench_train.cpp: SOL, lines, Ext repeated, then EOS, all rows `length`."""
    commands = torch.full((batch, length), EOS, dtype=torch.long)
    args = torch.full((batch, length, N_ARGS), -1, dtype=torch.long)
    for b in range(batch):
        pattern = [SOL, LINE, LINE, LINE, LINE, EXT]
        for i in range(length - 1):
            c = pattern[i % len(pattern)]
            commands[b, i] = c
            used = ARGS_MASK[c].bool()
            args[b, i, used] = torch.randint(0, 256, (int(used.sum()),), generator=gen)
    return commands, args


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = Autoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    commands, args = synthetic_batch(gen, a.batch, a.length)
    start = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            start = time.perf_counter()
        cmd_logits, args_logits = model(commands, args)
        loss = cad_loss(cmd_logits, args_logits, commands, args)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    secs = time.perf_counter() - start
    print(f"samples_per_s {a.batch * a.steps / secs:.2f}")


if __name__ == "__main__":
    main()
