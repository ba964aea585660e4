"""A stand-in for the authors' AffectGPT, written in the test from the official code's module names and formulas.

`OfficialAffectGPT` has the attributes of `my_affectgpt/models/affectgpt.py` (video_attention_mlp, affectgpt_proj,
..., a LAVIS-style BERT Q-Former, the LLM wrapped by a real `peft.get_peft_model`); `official_checkpoint` saves it
the way the official runner's `_save_checkpoint` does (state dict minus frozen parameters, plus optimizer/config/
scaler/epoch); `official_logits` is the official forward (raw attention pooling, pre-fusion, placeholder
replacement, PEFT LoRA on the LLM). Nothing here imports our model, so the convert tests compare two
independent implementations. The tests in this file check the stand-in itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn

TOKENS = {"frame": 151667, "face": 151668, "audio": 151666, "multi": 151669, "image": 151665}
LORA_PROJS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


@dataclass
class Variant:
    visual_input: str = "frame"
    video: str = "attention"  # per-modality pooling: attention | qformer | mean
    audio: str = "attention"
    multi: str = "attention"  # pre-fusion: attention | qformer
    lora_r: int = 4
    lora_alpha: float = 32.0
    alpha_in_config: bool = False  # the official config has no lora_alpha; some forks add it
    fusion: int = 40  # F (≠ d_a, d_v, LLM width, so a wrong mapping cannot pass a shape check)
    qformer_hidden: int = 32
    qformer_heads: int = 2  # the tiny preset's Q-Former heads
    qformer_layers: int = 2
    extra: dict = field(default_factory=dict)


def tiny_base_models(root: Path) -> dict[str, str]:
    """Tiny CLIP (a CLIPModel folder, projected 24-d), HuBERT (32-d, 4 layers) and Qwen2 (vocab covers the placeholders), saved."""
    from transformers import (
        CLIPConfig,
        CLIPModel,
        HubertConfig,
        HubertModel,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    torch.manual_seed(0)
    # A full CLIPModel folder (text + vision), like openai/clip-vit-large-patch14: the vision tower and its
    # projection are read out of it.
    vision = CLIPModel(
        CLIPConfig(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 28,
                "patch_size": 14,
            },
            projection_dim=24,
        )
    )
    audio = HubertModel(
        HubertConfig(
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=64,
            conv_dim=(16, 16),
            conv_stride=(5, 2),
            conv_kernel=(10, 3),
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2,
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
            conv_bias=True,
        )
    )
    llm = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=151680,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            tie_word_embeddings=False,
            bos_token_id=151643,
            eos_token_id=151643,
            pad_token_id=151643,
        )
    )
    paths = {}
    for name, model in (("vision", vision), ("audio", audio), ("llm", llm)):
        model.save_pretrained(root / name)
        paths[name] = str(root / name)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# LAVIS-style BERT Q-Former (query path only, as the official code leaves it)
# ---------------------------------------------------------------------------------------------------------------
class _SelfAttention(nn.Module):
    def __init__(self, hidden, source, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (
            nn.Linear(hidden, hidden),
            nn.Linear(source, hidden),
            nn.Linear(source, hidden),
        )

    def forward(self, x, src):
        def split(t):  # (N, L, H) -> (N, heads, L, H/heads)
            return t.view(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(src)), split(self.value(src))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return (probs @ v).transpose(1, 2).reshape(x.shape)


class _DenseNorm(nn.Module):
    def __init__(self, inp, hidden):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(inp, hidden), nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class _Attention(nn.Module):
    def __init__(self, hidden, source, heads):
        super().__init__()
        self.self = _SelfAttention(hidden, source, heads)  # LAVIS names it `self`
        self.output = _DenseNorm(hidden, hidden)

    def forward(self, x, src):
        return self.output(self.self(x, src), x)


class _Layer(nn.Module):
    def __init__(self, hidden, width, heads):
        super().__init__()
        self.attention = _Attention(hidden, hidden, heads)
        self.crossattention = _Attention(hidden, width, heads)
        self.intermediate_query = nn.Module()
        self.intermediate_query.dense = nn.Linear(hidden, 4 * hidden)
        self.output_query = _DenseNorm(4 * hidden, hidden)

    def forward(self, x, enc):
        x = self.crossattention(self.attention(x, x), enc)
        return self.output_query(nn.functional.gelu(self.intermediate_query.dense(x)), x)


class LavisQFormer(nn.Module):
    def __init__(self, hidden, width, heads, layers):
        super().__init__()
        self.bert = nn.Module()
        self.bert.embeddings = nn.Module()
        self.bert.embeddings.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        # Persistent in LAVIS, so it is in the official state dict although nothing reads it for query input.
        self.bert.embeddings.register_buffer("position_ids", torch.arange(512).expand((1, -1)))
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList(_Layer(hidden, width, heads) for _ in range(layers))

    def forward(self, queries, enc):
        x = self.bert.embeddings.LayerNorm(queries)
        for layer in self.bert.encoder.layer:
            x = layer(x, enc)
        return x


# ---------------------------------------------------------------------------------------------------------------
# The official model stand-in
# ---------------------------------------------------------------------------------------------------------------
class OfficialAffectGPT(nn.Module):
    def __init__(self, paths: dict[str, str], v: Variant):
        super().__init__()
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel, CLIPModel, Qwen2ForCausalLM

        self.v = v
        self.visual_encoder = CLIPModel.from_pretrained(paths["vision"]).eval()
        self.acoustic_encoder = AutoModel.from_pretrained(paths["audio"]).eval()
        llm = Qwen2ForCausalLM.from_pretrained(paths["llm"])
        for p in [*self.visual_encoder.parameters(), *self.acoustic_encoder.parameters(), *llm.parameters()]:
            p.requires_grad = False
        targets = [f"model.layers.{i}.{k}" for i in range(llm.config.num_hidden_layers) for k in LORA_PROJS]
        peft_config = LoraConfig(
            task_type="CAUSAL_LM",
            r=v.lora_r,
            lora_alpha=v.lora_alpha,
            lora_dropout=0.05,
            target_modules=targets,
        )
        self.llama_model = get_peft_model(llm, peft_config)
        d_v, d_a, h = (
            self.visual_encoder.config.projection_dim,
            self.acoustic_encoder.config.hidden_size,
            llm.config.hidden_size,
        )
        qh, F = v.qformer_hidden, v.fusion

        self.image_llama_proj = nn.Linear(d_v, h)  # trainable, hence saved, although video never uses it
        if v.video == "attention":
            self.video_attention_mlp = nn.Linear(d_v, 1)
        elif v.video == "qformer":
            self.video_frame_position_embedding = nn.Embedding(32, d_v)
            self.video_Qformer = LavisQFormer(qh, d_v, v.qformer_heads, v.qformer_layers)
            self.video_query_tokens = nn.Parameter(torch.zeros(1, 1, qh))
        self.affectgpt_proj = nn.Linear(qh if v.video == "qformer" else d_v, h)
        if v.audio == "attention":
            self.audio_attention_mlp = nn.Linear(d_a, 1)
        elif v.audio == "qformer":
            self.audio_position_embedding = nn.Embedding(8, d_a)
            self.audio_Qformer = LavisQFormer(qh, d_a, v.qformer_heads, v.qformer_layers)
            self.audio_query_tokens = nn.Parameter(torch.zeros(1, 1, qh))
        self.audio_llama_proj = nn.Linear(qh if v.audio == "qformer" else d_a, h)
        self.multi_audio_embs, self.multi_video_embs = nn.Linear(d_a, F), nn.Linear(d_v, F)
        if v.multi == "qformer":
            self.multi_position_embedding = nn.Embedding(264, F)
            self.multi_Qformer = LavisQFormer(qh, F, v.qformer_heads, v.qformer_layers)
            self.multi_query_tokens = nn.Parameter(torch.zeros(1, 1, qh))
            self.multi_llama_proj = nn.Linear(qh, h)
        else:
            self.attention_mlp, self.fc_att = nn.Linear(2 * F, F), nn.Linear(F, 2)
            self.multi_llama_proj = nn.Linear(F, h)

        # "Trained" weights: random everywhere trainable, LoRA B included (PEFT initialises it to zero).
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in self.parameters():
                if p.requires_grad:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        self.eval()

    # -- official formulas ------------------------------------------------------------------------------------
    def _qformer(self, name, steps, positions):
        steps = steps + positions.weight[: steps.shape[1]]
        queries = getattr(self, f"{name}_query_tokens").expand(steps.shape[0], -1, -1)
        return getattr(self, f"{name}_Qformer")(queries, steps)  # (N, 1, qh)

    def _pool(self, kind, z):
        """Per-modality token: raw attention scores (no softmax), z^T s; or the Q-Former; or the mean."""
        mode = self.v.video if kind == "video" else self.v.audio
        proj = self.affectgpt_proj if kind == "video" else self.audio_llama_proj
        if mode == "attention":
            mlp = self.video_attention_mlp if kind == "video" else self.audio_attention_mlp
            scores = mlp(z)  # (N, T, 1)
            return proj((z.transpose(1, 2) @ scores).squeeze(2)).unsqueeze(1)  # (N, d, T) @ (N, T, 1)
        if mode == "qformer":
            pos = self.video_frame_position_embedding if kind == "video" else self.audio_position_embedding
            return proj(self._qformer(kind, z, pos))
        return proj(z.mean(1)).unsqueeze(1)

    def _multi(self, zv, za):
        if self.v.multi == "qformer":
            steps = torch.cat([self.multi_video_embs(zv), self.multi_audio_embs(za)], dim=1)
            return self.multi_llama_proj(self._qformer("multi", steps, self.multi_position_embedding))
        hv, ha = self.multi_video_embs(zv.mean(1)), self.multi_audio_embs(za.mean(1))
        alpha = self.fc_att(self.attention_mlp(torch.cat([hv, ha], dim=1))).unsqueeze(
            2
        )  # (N, 2, 1), no softmax
        fused = (torch.stack([hv, ha], dim=2) @ alpha).squeeze(2)  # (N, F, 2) @ (N, 2, 1)
        return self.multi_llama_proj(fused).unsqueeze(1)

    @torch.no_grad()
    def logits(self, input_ids, pixel_values, audio_clips, attention_mask):
        n, t = pixel_values.shape[:2]
        clip = self.visual_encoder  # CLIP image features = projection of the pooled [CLS] state
        pooled = clip.vision_model(pixel_values=pixel_values.flatten(0, 1)).pooler_output
        zv = clip.visual_projection(pooled).reshape(n, t, -1)
        hidden = self.acoustic_encoder(audio_clips.flatten(0, 1), output_hidden_states=True).hidden_states
        za = torch.stack(hidden[-4:]).mean(0).mean(1).reshape(n, audio_clips.shape[1], -1)
        feats = {
            self.v.visual_input: self._pool("video", zv),
            "audio": self._pool("audio", za),
            "multi": self._multi(zv, za),
        }
        temp = input_ids.clone()
        for token in TOKENS.values():
            temp[temp == token] = 0
        embeds = self.llama_model.get_input_embeddings()(temp)
        rows = []
        for i in range(n):
            row = embeds[i]
            for kind, token in TOKENS.items():
                where = (input_ids[i] == token).nonzero().flatten()
                if len(where):
                    start = int(where[0])
                    row = torch.cat([row[:start], feats[kind][i], row[start + 1 :]], dim=0)
            rows.append(row)
        return self.llama_model(inputs_embeds=torch.stack(rows), attention_mask=attention_mask).logits


def official_checkpoint(model: OfficialAffectGPT, path: Path, epoch: int = 30) -> Path:
    """Saved the way the official runner does: the state dict minus parameters that do not require grad."""
    grads = {k: p.requires_grad for k, p in model.named_parameters()}
    state = {k: v for k, v in model.state_dict().items() if grads.get(k, True)}
    v = model.v
    config = {
        "model": {
            "arch": "affectgpt",
            "lora_r": v.lora_r,
            "multi_fusion_type": v.multi,
            "video_fusion_type": v.video,
            "audio_fusion_type": v.audio,
            "num_video_query_token": 1,
            "num_audio_query_token": 1,
            "num_multi_query_token": 1,
            "llama_model": "Qwen25",
            "visual_encoder": "CLIP_VIT_LARGE",
            "acoustic_encoder": "HUBERT_LARGE",
            **({"lora_alpha": v.lora_alpha} if v.alpha_in_config else {}),
        },
        "datasets": {
            "mercaptionplus": {"face_or_frame": f"multi{v.visual_input}_audio_{v.visual_input}_text"}
        },
        "run": {"init_lr": 1e-5, "max_epoch": 60, "seed": 42, "amp": True},
    }
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, weight_decay=0.05)
    scaler = {
        "scale": 65536.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 2000,
        "_growth_tracker": 0,
    }
    torch.save(
        {
            "model": state,
            "optimizer": optimizer.state_dict(),
            "config": config,
            "scaler": scaler,
            "epoch": epoch,
        },
        path,
    )
    return path


def sample_inputs(visual_input: str, batch: int = 2, seed: int = 3):
    """Prompt ids with the three placeholders (fused, audio, visual) + frames (28x28) + 8 audio clips."""
    gen = torch.Generator().manual_seed(seed)
    words = lambda k: torch.randint(0, 151000, (batch, k), generator=gen)  # noqa: E731
    col = lambda token: torch.full((batch, 1), token)  # noqa: E731
    ids = torch.cat(
        [
            words(4),
            col(TOKENS["multi"]),
            words(3),
            col(TOKENS["audio"]),
            words(2),
            col(TOKENS[visual_input]),
            words(5),
        ],
        dim=1,
    )
    pixels = torch.randn(batch, 8, 3, 28, 28, generator=gen)
    clips = torch.randn(batch, 8, 800, generator=gen)
    return ids, pixels, clips, torch.ones_like(ids)


# ---------------------------------------------------------------------------------------------------------------
# The stand-in matches what the issue says about the official file
# ---------------------------------------------------------------------------------------------------------------
def shared_base_models(tmp_path_factory) -> dict[str, str]:
    """The tiny base folders, built once per test session (every convert test module reads the same ones)."""
    root = tmp_path_factory.getbasetemp() / "convert-base-models"
    if not (root / "llm" / "config.json").is_file():
        tiny_base_models(root)
    return {name: str(root / name) for name in ("vision", "audio", "llm")}


@pytest.fixture(scope="module")
def base_paths(tmp_path_factory):
    return shared_base_models(tmp_path_factory)


def test_checkpoint_has_the_official_layout(base_paths, tmp_path):
    model = OfficialAffectGPT(base_paths, Variant())
    ckpt = torch.load(official_checkpoint(model, tmp_path / "c.pth"), weights_only=True)
    assert set(ckpt) == {"model", "optimizer", "config", "scaler", "epoch"}
    keys = set(ckpt["model"])
    for name in (
        "video_attention_mlp",
        "affectgpt_proj",
        "audio_attention_mlp",
        "audio_llama_proj",
        "multi_video_embs",
        "multi_audio_embs",
        "attention_mlp",
        "fc_att",
        "multi_llama_proj",
        "image_llama_proj",
    ):
        assert f"{name}.weight" in keys and f"{name}.bias" in keys
    lora = sorted(k for k in keys if k.startswith("llama_model."))
    assert len(lora) == 2 * 7 * 2  # A and B, 7 projections, 2 layers
    assert "llama_model.base_model.model.model.layers.1.self_attn.q_proj.lora_A.default.weight" in lora
    assert "llama_model.base_model.model.model.layers.0.mlp.down_proj.lora_B.default.weight" in lora
    assert not any(k.startswith(("visual_encoder.", "acoustic_encoder.")) for k in keys)  # frozen: not saved


def test_qformer_checkpoint_keeps_lavis_names(base_paths, tmp_path):
    model = OfficialAffectGPT(base_paths, Variant(video="qformer", multi="qformer"))
    keys = set(torch.load(official_checkpoint(model, tmp_path / "q.pth"), weights_only=True)["model"])
    assert "video_Qformer.bert.encoder.layer.1.crossattention.self.key.weight" in keys
    assert "multi_Qformer.bert.embeddings.position_ids" in keys and "multi_query_tokens" in keys
    assert "video_frame_position_embedding.weight" in keys and "multi_position_embedding.weight" in keys
