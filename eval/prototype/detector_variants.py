"""PyTorch prototype of the anomaly detector's VAE, used to screen ideas for issue 14 before building them in C#.

Same model, loss, sizes, schedule (batch 64, Adam 1e-3, ~2,000 steps in 20-300 epochs, 10% validation, patience 20) and
score (negative ELBO, beta 1, 10 draws) as VaeAnomalyOptions' defaults before issue 14, on the 23 shared sets with
odds_classic.py's splits (sklearn's stratified 60/40, seeds 0..), standardized; IsolationForest on the same splits.
Not the library: figures differ from eval/MLNetVae.Evaluation's by the splits and the seeds; use it for side-by-side
comparisons of variants only (docs/evaluation.md, "PyTorch screening"). Variants:
  --trim F      leave the F share of each batch's worst rows out of the step (what shipped, F = 0.2)
  --hpr F       hidden <= F x training rows (what shipped, F = 0.5), latent <= hidden / 2
  --variant lv  learned per-feature observation variance (floor --floor on its log);  iw: importance-weighted score
  --ens N       N seeds, robustly standardized scores summed;  --prep gauss: per-feature Gaussianizing map
  --vt 1        trimmed validation loss too;  --drop F: input dropout;  --steps N: optimizer steps;  --bs N: batch
  --variant lap Laplace likelihood (2 * sum |x - x_hat|) in loss and score;  --mix base,lap: one model of each, summed
  --wd F        Adam weight decay;  --prep robust|robmin|robmin3|central|rowtrim|rowtrim90: rescaling after
                standardization by the spread of the bulk (S25-S29)
  --pat N       early-stopping patience (0: every epoch; what shipped);  --cos 1: cosine learning-rate decay over the
                epochs;  --swa F: keep the running mean of the weights over the last F share of epochs (S30-S32)
  --huber D     Huber likelihood: r^2 within D standard deviations, linear beyond (S34);  --student NU: Student-t (S35)
  --gtrim F     instead of each batch's worst, leave out the F share of all training rows fitted worst at the epoch's start (S36)
  --variant gv  one learned observation variance for all features (sigma-VAE; its Gaussian NLL in loss and score, S37)
  --lr F  Adam learning rate;  --hmin N: smallest hidden size (32 shipped);  --bag F: each --ens member on a random F share
  --variant mog  a learned mixture-of-Gaussians prior (--mog C components, 10), its KL estimated from the draws (S45)
  --seed0 N  first split seed (seeds N..N+seeds-1; 0 unless noted)
  --variant skip  a linear latent-to-output path beside the decoder's MLP;  skipenc: the encoder gets one too (S44)
  --scores all  also prints the AUCs of alternative scores of the same models (S22: rec, KL, decode of mu, KL weight,
                per-feature residual variance fitted after training, latent Mahalanobis distance;
                S40: a histogram (HBOS) score of the marginals, alone and summed with the ELBO)
Run: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 detector_variants.py --seeds 2 --trim 0.2
(needs python3-torch and python3-sklearn; about 3 minutes per 2-seed run on one core)."""
import json, math, pathlib, sys, time, argparse
import numpy as np, torch
from sklearn.model_selection import train_test_split
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
torch.set_num_threads(1)
root = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared/data beside the repo
ap = argparse.ArgumentParser()
ap.add_argument("--variant", default="base"); ap.add_argument("--seeds", type=int, default=1); ap.add_argument("--seed0", type=int, default=0); ap.add_argument("--mog", type=int, default=10)
ap.add_argument("--sets", default=""); ap.add_argument("--out", default="")
ap.add_argument("--floor", type=float, default=-4.6); ap.add_argument("--hpr", type=float, default=0)
ap.add_argument("--ens", type=int, default=1); ap.add_argument("--K", type=int, default=10)
ap.add_argument("--steps", type=int, default=2000); ap.add_argument("--wd", type=float, default=0)
ap.add_argument("--drop", type=float, default=0); ap.add_argument("--prep", default="std"); ap.add_argument("--trim", type=float, default=0); ap.add_argument("--trimwarm", type=int, default=0); ap.add_argument("--vt", type=int, default=0); ap.add_argument("--bs", type=int, default=64); ap.add_argument("--mix", default=""); ap.add_argument("--knots", type=int, default=33); ap.add_argument("--scores", default="")
ap.add_argument("--gtrim", type=float, default=0); ap.add_argument("--huber", type=float, default=0); ap.add_argument("--student", type=float, default=0); ap.add_argument("--pat", type=int, default=20); ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--hmin", type=int, default=32); ap.add_argument("--bag", type=float, default=0); ap.add_argument("--cos", type=int, default=0); ap.add_argument("--swa", type=float, default=0)
a = ap.parse_args()
sets = sorted((root / "odds").glob("*.csv")) + sorted((root / "embeddings").glob("*.csv"))
if a.sets: sets = [p for p in sets if p.stem in a.sets.split(",")]

def load(p):
    arr = np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float64); return arr[:, 1:], arr[:, 0].astype(int)

class Skip(torch.nn.Module):
    """S44: the MLP plus a linear map of its input (a probabilistic-PCA path beside the nonlinear one)."""
    def __init__(s, mlp, lin):
        super().__init__(); s.mlp, s.lin = mlp, lin
    def forward(s, x): return s.mlp(x) + s.lin(x)

class Vae(torch.nn.Module):
    def __init__(s, d, h, l, learned_var, skip=""):
        super().__init__()
        L = torch.nn.Linear; R = torch.nn.ReLU
        s.enc = torch.nn.Sequential(L(d, h), R(), L(h, h), R(), L(h, 2 * l))
        s.dec = torch.nn.Sequential(L(l, h), R(), L(h, h), R(), L(h, d))
        if skip.startswith("skip"): s.dec = Skip(s.dec, L(l, d))
        if skip == "skipenc": s.enc = Skip(s.enc, L(d, 2 * l))
        s.l = l
        C = a.mog if skip == "mog" else 0  # S45: a learned mixture-of-Gaussians prior with C components
        s.pm = torch.nn.Parameter(torch.randn(C, l)) if C else None
        s.pv = torch.nn.Parameter(torch.zeros(C, l)) if C else None
        s.pw = torch.nn.Parameter(torch.zeros(C)) if C else None
        s.obs = torch.nn.Parameter(torch.zeros(d)) if learned_var is True else None
        s.glv = torch.nn.Parameter(torch.tensor(math.log(0.5))) if learned_var == "global" else None
    def encode(s, x):
        o = s.enc(x); return o[:, :s.l], torch.clamp(o[:, s.l:], max=10.0)

def kl_term(m, mu, lv, z, eps):
    """KL(q(z|x) || p(z)) per row: analytic for N(0, I); for the S45 mixture prior its one-draw estimate log q(z|x) - log p(z)."""
    if m.pm is None: return -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(-1)
    logq = (-0.5 * eps ** 2 - 0.5 * lv).sum(-1)
    pv = torch.clamp(m.pv, min=-6.0)
    comp = (-0.5 * (z[..., None, :] - m.pm) ** 2 / pv.exp() - 0.5 * pv).sum(-1)  # [..., C]
    logp = torch.logsumexp(comp + torch.log_softmax(m.pw, 0), -1)
    return logq - logp

def obs_logvar(m, floor):
    # base: SSE == Gaussian with variance 1/2 -> log(0.5)
    if m.glv is not None: return torch.clamp(m.glv, min=floor)  # S37: one learned variance for all features (sigma-VAE)
    return torch.clamp(m.obs, min=floor) if m.obs is not None else torch.tensor(math.log(0.5))

def huber(r, dl):  # S34: r^2 within dl, 2 dl |r| - dl^2 beyond (Gaussian sigma^2 1/2 at the centre, Laplace b 1/2 slope at dl 1)
    r = r.abs(); return torch.where(r <= dl, r ** 2, 2 * dl * r - dl ** 2)

def student(r, nu):  # S35: Student-t NLL with nu degrees of freedom, scaled to r^2 at the centre like the Gaussian
    s2 = (nu + 1) / (2 * nu); return (nu + 1) * torch.log1p(r ** 2 / (nu * s2)) / 2

def rec_loss(r):  # the reconstruction term of loss, validation and score for the likelihood chosen on the command line
    return huber(r, a.huber) if a.huber > 0 else student(r, a.student) if a.student > 0 else None

def nll(x, xh, lv):  # -log p(x|z) without 2pi constant
    return (0.5 * (x - xh) ** 2 / lv.exp() + 0.5 * lv).sum(-1)

def train(X, seed, variant):
    torch.manual_seed(seed); rng = np.random.RandomState(seed)
    n, d = X.shape
    h = int(np.clip(2 * d, a.hmin, 512)); l = int(np.clip((d + 2) // 3, 2, 256))
    if a.hpr > 0:
        h = int(min(h, max(32, a.hpr * n))); l = int(min(l, max(2, h // 2)))
    learned = "lv" in variant or variant == "gv"
    m = Vae(d, h, l, "global" if variant == "gv" else learned, variant)
    perm = rng.permutation(n); nv = int(round(0.1 * n)); va, tr = perm[:nv], perm[nv:]
    Xt = torch.tensor(X, dtype=torch.float32)
    opt = torch.optim.Adam(m.parameters(), lr=a.lr, weight_decay=a.wd)
    spe = max(1, math.ceil(len(tr) / a.bs)); epochs = int(np.clip(math.ceil(a.steps / spe), 20, 300))
    best, bestv, wait = None, float("inf"), 0
    gv = torch.Generator().manual_seed(seed + 1)
    epsv = torch.randn(nv, l, generator=gv)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if a.cos else None
    swa, swan = None, 0
    for ep in range(epochs):
        m.train()
        idx = torch.tensor(rng.permutation(tr))
        if a.gtrim > 0 and ep > 0:  # S36: leave out the share of rows the model fits worst now (one draw each), for this epoch
            with torch.no_grad():
                x = Xt[idx]; mu, lv = m.encode(x); xh = m.dec(mu + (0.5 * lv).exp() * torch.randn_like(mu))
                rows = ((x - xh) ** 2).sum(-1) - 0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(-1)
            idx = idx[rows <= torch.quantile(rows, 1 - a.gtrim)]
        for b in range(0, len(idx), a.bs):
            x = Xt[idx[b:b + a.bs]]
            if a.drop > 0: xin = torch.nn.functional.dropout(x, a.drop)
            else: xin = x
            mu, lv = m.encode(xin); eps = torch.randn_like(mu); z = mu + (0.5 * lv).exp() * eps
            xh = m.dec(z); kl = kl_term(m, mu, lv, z, eps)
            if learned: rl = nll(x, xh, obs_logvar(m, a.floor)) + kl
            elif a.huber > 0 or a.student > 0: rl = rec_loss(x - xh).sum(-1) + kl
            elif "lap" in variant: rl = 2 * (x - xh).abs().sum(-1) + kl
            else: rl = ((x - xh) ** 2).sum(-1) + kl
            if a.trim > 0 and ep >= a.trimwarm:
                keep = len(rl) - int(round(a.trim * len(rl)))
                rl = torch.topk(rl, keep, largest=False).values
            loss = rl.sum()
            opt.zero_grad(); loss.backward(); opt.step()
        if sched: sched.step()
        if a.swa > 0 and ep >= (1 - a.swa) * epochs:  # running mean of the weights over the last a.swa share of epochs
            swan += 1; sd = m.state_dict()
            swa = {k: t.clone() for k, t in sd.items()} if swa is None else {k: swa[k] + (sd[k] - swa[k]) / swan for k in sd}
        m.eval()
        with torch.no_grad():
            x = Xt[va]; mu, lv = m.encode(x); zv = mu + (0.5 * lv).exp() * epsv; xh = m.dec(zv)
            kl = kl_term(m, mu, lv, zv, epsv)
            rows = (nll(x, xh, obs_logvar(m, a.floor)) if learned else rec_loss(x - xh).sum(-1) if a.huber > 0 or a.student > 0 else (2 * (x - xh).abs().sum(-1) if "lap" in variant else ((x - xh) ** 2).sum(-1))) + kl
            if a.vt: rows = torch.topk(rows, len(rows) - int(round(a.trim * len(rows))), largest=False).values
            v = float(rows.sum())
        if v < bestv: bestv, best, wait = v, {k: t.clone() for k, t in m.state_dict().items()}, 0
        else:
            wait += 1
            if a.pat > 0 and wait >= a.pat: break
    m.load_state_dict(swa if swa is not None else best); m.eval(); return m

def score(m, X, variant, seed, K):
    x = torch.tensor(X, dtype=torch.float32)
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        mu, lv = m.encode(x); eps = torch.randn(K, mu.shape[1], generator=g)
        z = mu[:, None, :] + (0.5 * lv).exp()[:, None, :] * eps[None]  # [n,K,l]
        xh = m.dec(z.reshape(-1, mu.shape[1])).reshape(len(x), K, -1)
        olv = obs_logvar(m, a.floor)
        rec = nll(x[:, None, :], xh, olv)  # [n,K]
        if a.huber > 0 or a.student > 0:
            rec = rec_loss(x[:, None, :] - xh).sum(-1)
        elif "lap" in variant:
            rec = 2 * (x[:, None, :] - xh).abs().sum(-1)
        elif not ("lv" in variant or variant == "gv"):
            rec = ((x[:, None, :] - xh) ** 2).sum(-1)  # base units (sigma^2 = 1/2 minus constants)
        kl = kl_term(m, mu[:, None, :], lv[:, None, :], z, eps[None].expand_as(z)).mean(1)  # analytic for N(0, I): the draws' mean is the value
        if "iw" in variant:
            logpz = -0.5 * (z ** 2).sum(-1)
            logq = -0.5 * (eps[None] ** 2).sum(-1) - 0.5 * lv.sum(-1, keepdim=True)
            logw = -rec + logpz - logq
            return -(torch.logsumexp(logw, 1) - math.log(K)).numpy()
        return (rec.mean(1) + kl).numpy()

def robust_rescale(prep, tr, te):
    """S25-S29: rescale standardized features by the spread of their bulk (std kept where the IQR is under thr x std)."""
    if prep in ("robust", "robmin", "robmin3"):
        q1, med, q3 = np.percentile(tr, [25, 50, 75], axis=0); sc = (q3 - q1) / 1.349
        thr = 0.3 if prep == "robmin3" else 0.1
        if prep == "robust": sc = np.where(sc < thr, 1.0, sc); return (tr - med) / sc, (te - med) / sc
        sc = np.where(sc < thr, 1.0, np.minimum(sc, 1.0)); return tr / sc, te / sc  # robmin: only ever narrows
    if prep.startswith("rowtrim"):  # mean and std of the rows nearest the centre (80% or 90%), per-feature std kept where tiny
        share = 0.9 if prep == "rowtrim90" else 0.8
        inner = tr[(tr ** 2).sum(1) <= np.quantile((tr ** 2).sum(1), share)]
        c, sd = inner.mean(0), inner.std(0); sd = np.where(sd < 0.1, 1.0, sd)
        return (tr - c) / sd, (te - c) / sd
    if prep == "central":  # mean and std of the central 90% per feature
        lo, hi = np.percentile(tr, [5, 95], axis=0); inside = (tr >= lo) & (tr <= hi)
        c = np.array([tr[inside[:, j], j].mean() for j in range(tr.shape[1])])
        sd = np.array([tr[inside[:, j], j].std() for j in range(tr.shape[1])]); sd = np.where(sd < 0.1, 1.0, sd)
        return (tr - c) / sd, (te - c) / sd
    return tr, te

def alternative_scores(m, tr, te, seed, K=10):
    """S22: scores of one trained model (no --variant): the ELBO's parts, its KL weight, decode of mu, post-hoc variances."""
    def parts(X):
        x = torch.tensor(X, dtype=torch.float32); g = torch.Generator().manual_seed(1000 + seed)
        with torch.no_grad():
            mu, lv = m.encode(x); eps = torch.randn(K, mu.shape[1], generator=g)
            z = mu[:, None, :] + (0.5 * lv).exp()[:, None, :] * eps[None]
            e2 = ((x[:, None, :] - m.dec(z.reshape(-1, mu.shape[1])).reshape(len(x), K, -1)) ** 2).mean(1)
            e1 = (x[:, None, :] - m.dec(z.reshape(-1, mu.shape[1])).reshape(len(x), K, -1)).abs().mean(1).sum(1)
            kl = -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(-1); e2mu = ((x - m.dec(mu)) ** 2).sum(1)
        return e2.numpy(), kl.numpy(), mu.numpy(), e2mu.numpy(), e1.numpy()
    e2t, klt, mut, _, _ = parts(tr); e2, kl, mu, e2mu, e1 = parts(te)
    keep = (e2t.sum(1) + klt) <= np.quantile(e2t.sum(1) + klt, 0.8)  # the training rows the trimmed loss fits
    out = {"elbo": e2.sum(1) + kl, "rec": e2.sum(1), "kl": kl, "elbo_mu": e2mu + kl, "kl2": e2.sum(1) + 2 * kl,
           "kl05": e2.sum(1) + 0.5 * kl, "l1": 2 * e1 + kl, "sq": e2.sum(1) + kl}  # l1 / sq: the Laplace / Gaussian score of any model
    for name, rows in (("pfv", slice(None)), ("pfv80", keep)):  # per-feature Gaussian variance of the residuals
        out[name] = 0.5 * (e2 / np.maximum(e2t[rows].mean(0), 1e-3)).sum(1) + kl
    out["gv80"] = 0.5 * (e2 / e2t[keep].mean()).sum(1) + kl  # one variance for all features
    c = np.atleast_2d(np.cov(mut[keep].T)) + 1e-3 * np.eye(mut.shape[1]); dm = mu - mut[keep].mean(0)
    out["elbo+maha"] = out["elbo"] + 0.5 * np.einsum("ij,jk,ik->i", dm, np.linalg.inv(c), dm)
    # S40: the ELBO plus a histogram (HBOS) score of each feature's marginal, each robustly standardized on the training rows
    elbo_tr = e2t.sum(1) + klt; hb_tr, hb_te = hbos(tr, tr), hbos(tr, te)
    def rz(v, ref): return (v - np.median(ref)) / (np.percentile(ref, 75) - np.percentile(ref, 25) + 1e-12)
    for wname, w in (("hbos", None), ("elbo+hbos", 1.0), ("elbo+hbos05", 0.5), ("elbo+hbos2", 2.0)):
        out[wname] = hb_te if w is None else rz(out["elbo"], elbo_tr) + w * rz(hb_te, hb_tr)
    return out

def hbos(tr, te, bins=10):
    """Histogram-based outlier score: sum over features of -log of the (add-one smoothed) histogram density of the training rows."""
    s = np.zeros(len(te))
    for j in range(tr.shape[1]):
        c = tr[:, j]; lo, hi = c.min(), c.max()
        if hi - lo < 1e-12: continue
        h, _ = np.histogram(c, bins=bins, range=(lo, hi)); p = (h + 1) / (len(c) + bins)
        idx = np.clip(np.floor((te[:, j] - lo) / (hi - lo) * bins).astype(int), 0, bins - 1)
        s += -np.log(np.where((te[:, j] < lo) | (te[:, j] > hi), 1 / (len(c) + bins), p[idx]))
    return s

from statistics import NormalDist
def gauss_map(tr, te, K):
    n = len(tr); nd = NormalDist()
    lim = min(3.0, nd.inv_cdf(n / (n + 1.0)))
    p = np.array([nd.cdf(t) for t in np.linspace(-lim, lim, K)])
    tgt = np.array([nd.inv_cdf(q) for q in p])
    otr, ote = np.empty_like(tr), np.empty_like(te)
    for j in range(tr.shape[1]):
        c = tr[:, j]; sd = c.std(); sd = sd if sd > 1e-6 else 1.0
        q = np.quantile(c, p)
        u, inv = np.unique(q, return_inverse=True)
        t = np.array([tgt[inv == i].mean() for i in range(len(u))])
        def f(v):
            if len(u) == 1: return (v - u[0]) / sd
            y = np.interp(v, u, t)
            y = np.where(v < u[0], t[0] + (v - u[0]) / sd, y)
            return np.where(v > u[-1], t[-1] + (v - u[-1]) / sd, y)
        otr[:, j] = f(c); ote[:, j] = f(te[:, j])
    return otr, ote

res = {}
t0 = time.time()
for p in sets:
    X, y = load(p); name = p.stem; aucs, ifs, secs, alt = [], [], [], {}
    for s in range(a.seed0, a.seed0 + a.seeds):
        itr, ite = train_test_split(np.arange(len(y)), test_size=0.4, stratify=y, random_state=s)
        if len(itr) > 10000: itr = itr[np.random.RandomState(s).choice(len(itr), 10000, replace=False)]
        tr, te, yte = X[itr], X[ite], y[ite]
        if a.prep == "gauss":
            tr, te = gauss_map(tr, te, a.knots)
        else:
            mm, sd = tr.mean(0), tr.std(0); sd[sd < 1e-6] = 1; tr = (tr - mm) / sd; te = (te - mm) / sd
            tr, te = robust_rescale(a.prep, tr, te)
        t = time.time(); sc = 0
        variants = a.mix.split(",") if a.mix else [a.variant] * a.ens
        for e, var in enumerate(variants):
            rows = tr if a.bag <= 0 else tr[np.random.RandomState(s * 100 + e).choice(len(tr), int(round(a.bag * len(tr))), replace=False)]
            m = train(rows, s * 100 + e, var)  # --bag F: each member on its own random F share of the training rows
            st = score(m, te, var, s * 100 + e, a.K)
            if a.scores:
                for k, v in alternative_scores(m, tr, te, s * 100 + e, a.K).items(): alt.setdefault(k, []).append(roc_auc_score(yte, v))
            if len(variants) > 1:
                sr = score(m, tr, var, s * 100 + e, a.K); st = (st - np.median(sr)) / (np.percentile(sr, 75) - np.percentile(sr, 25) + 1e-12)
            sc = sc + st
        secs.append(time.time() - t)
        aucs.append(roc_auc_score(yte, sc))
        ifs.append(roc_auc_score(yte, -IsolationForest(random_state=s).fit(tr).score_samples(te)))
    res[name] = dict(vae=float(np.mean(aucs)), iforest=float(np.mean(ifs)), secs=float(np.mean(secs)), **{k: float(np.mean(v)) for k, v in alt.items()})
    print(f"{name:12s} vae {res[name]['vae']:.3f} if {res[name]['iforest']:.3f} {res[name]['secs']:.1f}s", flush=True)
v = np.array([r["vae"] for r in res.values()]); f = np.array([r["iforest"] for r in res.values()])
w = int((v - f > 0.005).sum()); l = int((f - v > 0.005).sum())
print(f"MEAN {a.variant} vae {v.mean():.4f} if {f.mean():.4f} W/L/T {w}/{l}/{len(v)-w-l}  worse>0.05: " +
      ", ".join(f"{k} {r['vae']-r['iforest']:+.3f}" for k, r in res.items() if r['iforest'] - r['vae'] > 0.05) + f"  ({time.time()-t0:.0f}s)")
for k in (k for k in next(iter(res.values())) if k not in ("vae", "iforest", "secs")):
    v = np.array([r[k] for r in res.values()]); w = int((v - f > 0.005).sum()); l = int((f - v > 0.005).sum())
    print(f"  score {k:10s} {v.mean():.4f} W/L/T {w}/{l}/{len(v)-w-l}")
if a.out: json.dump(res, open(a.out, "w"), indent=1)
