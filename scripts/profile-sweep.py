#!/usr/bin/env python3
"""`make sweep` (`SWEEP_ARGS="..."`): user profiles at the edges of their documented ranges, checked from outside.

A user copies profiles/default.toml and changes values anywhere inside the ranges its comments
give. This writes such profiles (each key at the ends of its range, and combinations), renders
programme material and synthetic signals through them with `headroom render --profile FILE`,
and measures every output with ffmpeg's EBU R128 meter (`ebur128=peak=true`, `astats`) and
`headroom analyze`:

* no failed render, no NaN/inf in the output;
* true peak at or under `limiter.ceiling_dbtp` (ffmpeg and `headroom analyze`);
* integrated loudness of the output near the target where max_boost/max_cut can reach it;
* a steady sine is not pumped (10 ms RMS envelope within 0.5 dB over every 1 s once settled);
* digital silence stays digital silence, on its own and between tracks;
* steady noise on its own is lifted by at most 6 dB (the AGC's cap for stationary sound);
* room noise in the pauses of speech (20 LU or more under it in the input) stays at least
  10 LU under the speech before it; lifted more than the speech asks for is noted.

Only the Python standard library, ffmpeg and sox are used. Usage:

    scripts/profile-sweep.py [--headroom BIN] [--programmes DIR] [--out DIR]
                             [--only PROFILE,...] [--material NAME,...] [--jobs N] [--keep]

Programmes default to target/eval/programmes (built by `make eval`); without them only the
synthetic signals are rendered. Prints one line per render and FAIL lines; exits 1 when a
check fails.
"""

import argparse
import concurrent.futures
import json
import math
import os
import re
import shutil
import subprocess
import sys
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tolerances of the checks.
TP_TOL_DB = 0.1  # true peak over the ceiling (meters differ by up to ~0.1 dB)
I_TOL_LU = 1.5  # integrated loudness of the synthetic programme material vs target
PUMP_DB = 0.5  # 10 ms envelope peak-to-peak of a steady sine within 1 s
STEADY_BOOST_DB = 6.0 + 0.5  # stationary sound on its own
PAUSE_EXTRA_DB = 3.0  # noise in pauses lifted beyond the speech around it (noted)
NOISE_GAP_LU = 10.0  # noise in pauses at least this far under the speech (was >= 20 LU)


# --- profiles ------------------------------------------------------------------------------

# Each: name -> {"section.key": value}. Applied to a copy of profiles/default.toml.
PROFILES = {
    "default": {},
    "target-40": {"agc.target_lufs": -40},
    "target-30": {"agc.target_lufs": -30},
    "target-5": {"agc.target_lufs": -5},
    "target-5-ceil0": {"agc.target_lufs": -5, "limiter.ceiling_dbtp": 0},
    "target-5-mom30": {"agc.target_lufs": -5, "agc.max_momentary_lu": 30},
    "target-10-ceil-9": {"agc.target_lufs": -10, "limiter.ceiling_dbtp": -9},
    "boost0": {"agc.max_boost_db": 0},
    "boost40": {"agc.max_boost_db": 40},
    "cut0": {"agc.max_cut_db": 0},
    "cut40": {"agc.max_cut_db": 40},
    "window0.4": {"agc.window_s": 0.4},
    "window60": {"agc.window_s": 60},
    "rise0.01": {"agc.rise_db_per_s": 0.01},
    "rise100": {"agc.rise_db_per_s": 100},
    "fall0.01": {"agc.fall_db_per_s": 0.01},
    "fall100": {"agc.fall_db_per_s": 100},
    "mom1": {"agc.max_momentary_lu": 1},
    "mom30": {"agc.max_momentary_lu": 30},
    "gate-70": {"agc.silence_gate_lufs": -70},
    "gate-10": {"agc.target_lufs": -5, "agc.silence_gate_lufs": -10},
    "gate-41": {"agc.target_lufs": -40, "agc.silence_gate_lufs": -41},
    "comp-hard": {"compressor.threshold_db": -60, "compressor.ratio": 20, "compressor.knee_db": 0},
    "comp-soft": {"compressor.threshold_db": -60, "compressor.ratio": 20, "compressor.knee_db": 24},
    "comp-fast": {
        "compressor.threshold_db": -40,
        "compressor.ratio": 20,
        "compressor.attack_ms": 0.01,
        "compressor.release_ms": 0.01,
    },
    "comp-slow": {
        "compressor.threshold_db": -40,
        "compressor.ratio": 20,
        "compressor.attack_ms": 500,
        "compressor.release_ms": 5000,
    },
    "comp-off": {"compressor.enabled": False},
    "comp-bass0": {
        "compressor.threshold_db": -40,
        "compressor.ratio": 20,
        "compressor.sidechain_bass_cut_db": 0,
    },
    "comp-bass24": {
        "compressor.threshold_db": -40,
        "compressor.ratio": 20,
        "compressor.sidechain_bass_cut_db": 24,
    },
    "ceil-20": {"agc.target_lufs": -30, "limiter.ceiling_dbtp": -20},
    "ceil0": {"limiter.ceiling_dbtp": 0},
    "lim-fast": {"limiter.release_ms": 0.01, "limiter.lookahead_ms": 0.01},
    "lim-slow": {"limiter.release_ms": 5000},
    "agc-off": {"agc.enabled": False},
    "agc-off-makeup24": {"agc.enabled": False, "compressor.makeup_db": 24},
    "all-fast": {
        "agc.target_lufs": -5,
        "limiter.ceiling_dbtp": 0,
        "agc.max_boost_db": 40,
        "agc.max_cut_db": 40,
        "agc.window_s": 0.4,
        "agc.rise_db_per_s": 100,
        "agc.fall_db_per_s": 100,
        "agc.max_momentary_lu": 1,
        "agc.silence_gate_lufs": -10,
        "compressor.threshold_db": -60,
        "compressor.ratio": 20,
        "compressor.knee_db": 0,
        "compressor.attack_ms": 0.01,
        "compressor.release_ms": 0.01,
        "limiter.release_ms": 0.01,
        "limiter.lookahead_ms": 0.01,
    },
    "all-slow": {
        "agc.target_lufs": -40,
        "limiter.ceiling_dbtp": -20,
        "agc.max_boost_db": 40,
        "agc.max_cut_db": 40,
        "agc.window_s": 60,
        "agc.rise_db_per_s": 0.01,
        "agc.fall_db_per_s": 0.01,
        "agc.max_momentary_lu": 30,
        "agc.silence_gate_lufs": -70,
        "compressor.threshold_db": -60,
        "compressor.ratio": 20,
        "compressor.knee_db": 24,
        "compressor.attack_ms": 500,
        "compressor.release_ms": 5000,
        "limiter.release_ms": 5000,
    },
    "loud-night": {
        "agc.target_lufs": -30,
        "limiter.ceiling_dbtp": -20,
        "agc.max_boost_db": 40,
        "agc.window_s": 0.4,
        "agc.max_momentary_lu": 1,
        "compressor.threshold_db": -60,
        "compressor.ratio": 20,
        "compressor.knee_db": 0,
    },
}

# Profiles whose integrated loudness is not judged, and why (reported, not failed).
NOT_JUDGED = {
    "agc-off": "AGC off: no target",
    "agc-off-makeup24": "AGC off: no target",
    "rise0.01": "gain rises 0.01 dB/s: cannot reach the target within the material",
    "fall0.01": "gain falls 0.01 dB/s: cannot reach the target within the material",
    "all-slow": "gain moves 0.01 dB/s",
    "boost0": "no boost: quieter material stays under the target",
    "cut0": "no cut: louder material stays over the target",
}


# Checks that fail by design at a range edge, and where that is documented (reported as
# KNOWN, not counted as failures): profile -> {check: why}, where a check is the first word
# of its failure message, optionally `@material` for one material only.
UNDER_THE_GATE = ("speech under a silence gate set at the target is not levelled, and a "
                  "compressor far under it takes 25 dB and more off the speech without makeup "
                  "while the quieter room noise keeps its level: default.toml, "
                  "agc.silence_gate_lufs")
FALL_SLOW = ("a gain that falls 0.01 dB/s leaves a loud voice to the compressor and the "
             "loudness ceiling, which let go in its pauses: default.toml, agc.fall_db_per_s")
DOCUMENTED = {
    "all-fast": {"noise": UNDER_THE_GATE},
    "fall0.01": {"noise@speech-noise": FALL_SLOW},
}

# Invalid values a user may type: each must be refused with FILE:LINE:COL and the key.
INVALID = {
    "agc.target_lufs": -45,
    "agc.max_boost_db": 41,
    "agc.rise_db_per_s": 0,
    "agc.window_s": 0.3,
    "agc.max_momentary_lu": 0.5,
    "agc.silence_gate_lufs": -5,
    "compressor.ratio": 0.5,
    "compressor.attack_ms": 0,
    "limiter.ceiling_dbtp": -25,
    "limiter.lookahead_ms": 2,
}


def check_invalid(args, material):
    """Renders with each invalid value; returns the failures."""
    fails = []
    for key, value in INVALID.items():
        path = os.path.join(args.out, "profiles", "invalid.toml")
        write_profile(path, "invalid", {key: value})
        r = subprocess.run([args.headroom, "render", "-q", "--profile", path, material,
                            os.path.join(args.out, "renders", "invalid.wav")],
                           capture_output=True, text=True)
        ok = (r.returncode != 0 and re.search(re.escape(path) + r":\d+:\d+: ", r.stderr)
              and key in r.stderr and "panick" not in r.stderr)
        print(f"invalid {key} = {value}: {r.stderr.strip()}")
        if not ok:
            fails.append(f"{key} = {value}: rc {r.returncode}, {r.stderr.strip()!r}")
    return fails


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v))


def write_profile(path, name, overrides):
    """A copy of profiles/default.toml with `overrides` edited in place, as a user would."""
    with open(os.path.join(ROOT, "profiles", "default.toml")) as f:
        lines = f.read().split("\n")
    section = ""
    left = dict(overrides)
    out = []
    for line in lines:
        m = re.match(r"^\[(\w+)\]\s*$", line)
        if m:
            section = m.group(1)
        m = re.match(r"^(\w+)\s*=", line)
        if m and f"{section}.{m.group(1)}" in left:
            line = f"{m.group(1)} = {toml_value(left.pop(f'{section}.{m.group(1)}'))}"
        elif line.startswith("description ="):
            line = f'description = "sweep: {name}"'
        out.append(line)
    if left:
        raise SystemExit(f"profile {name}: keys not in default.toml: {sorted(left)}")
    with open(path, "w") as f:
        f.write("\n".join(out))


def params_of(overrides):
    p = {
        "agc.enabled": True,
        "agc.target_lufs": -16.0,
        "agc.max_boost_db": 30.0,
        "agc.max_cut_db": 24.0,
        "limiter.enabled": True,
        "limiter.ceiling_dbtp": -1.0,
        "agc.silence_gate_lufs": -60.0,
    }
    p.update(overrides)
    return p


# --- material ------------------------------------------------------------------------------


def make_synthetic(d):
    """Synthetic signals: name -> (path, facts)."""
    os.makedirs(d, exist_ok=True)
    rate = 48000
    sigs = {
        # steady tones: pumping, levelling of a tone, cutting a loud one
        "sine-20": ("aevalsrc=0.1*sin(2*PI*997*t):s=48000:d=30", {"steady": True}),
        "sine-3": ("aevalsrc=0.7079*sin(2*PI*997*t):s=48000:d=30", {"steady": True}),
        "sine-45": ("aevalsrc=0.005623*sin(2*PI*997*t):s=48000:d=30", {"steady": True}),
        # fs/4 at 45°: samples at full scale, true peak +3 dBTP
        "isp+3": ("aevalsrc=sin(2*PI*12000*t+PI/4)*1.41421:s=48000:d=10", {"steady": True}),
        # digital silence
        "silence": ("anullsrc=r=48000:cl=mono,atrim=duration=10", {"silence": True}),
        # full-scale white noise
        "noise0": ("anoisesrc=r=48000:a=1:c=white:seed=1:d=10", {}),
        # quiet pink noise on its own (about -60 LUFS)
        "pink-60": ("anoisesrc=r=48000:a=0.0056:c=pink:seed=2:d=20", {"noise": True}),
    }
    out = {}
    for name, (src, facts) in sigs.items():
        path = os.path.join(d, name + ".wav")
        if not os.path.exists(path):
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", src,
                 "-ac", "2", "-ar", str(rate), "-c:a", "pcm_f32le", path],
                check=True,
            )
        out[name] = (path, facts)
    return out


# --- measuring -----------------------------------------------------------------------------

M_LINE = re.compile(r"t:\s*([\d.]+)\s+TARGET.*?M:\s*(-?[\d.]+)")


def ffmeasure(path):
    """ffmpeg: integrated loudness, true peak, momentary series (t, M), NaN/Inf count, peak."""
    r = subprocess.run(
        ["ffmpeg", "-nostdin", "-nostats", "-hide_banner", "-v", "verbose", "-i", path,
         "-af", "ebur128=peak=true:framelog=verbose,astats=measure_perchannel=none",
         "-f", "null", "-"],
        capture_output=True, text=True,
    )
    err = r.stderr
    res = {"M": []}
    for line in err.splitlines():
        m = M_LINE.search(line)
        if m:
            res["M"].append((float(m.group(1)), float(m.group(2))))
    summ = err[err.rfind("Summary:"):]
    m = re.search(r"I:\s*(-?[\d.]+) LUFS", summ)
    res["I"] = float(m.group(1)) if m else None
    m = re.search(r"Peak:\s*(-?[\d.]+|-inf) dBFS", summ)
    res["TP"] = float(m.group(1)) if m else None
    nan = re.search(r"Number of NaNs: ([\d.]+)", err)
    inf = re.search(r"Number of Infs: ([\d.]+)", err)
    res["bad"] = (float(nan.group(1)) if nan else 0) + (float(inf.group(1)) if inf else 0)
    m = re.search(r"Peak level dB: (-?[\d.]+|-inf)", err)
    res["peak"] = float(m.group(1)) if m else None
    if r.returncode != 0:
        res["error"] = err[-500:]
    return res


def hr_analyze(hr, path):
    r = subprocess.run([hr, "analyze", "--json", path], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    return json.loads(r.stdout.splitlines()[0])


def samples(path, start=None, dur=None):
    """Mono (left channel) samples as floats."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if start is not None:
        cmd += ["-ss", str(start), "-t", str(dur)]
    cmd += ["-i", path, "-af", "pan=mono|c0=c0", "-f", "f32le", "-"]
    a = array("f")
    a.frombytes(subprocess.run(cmd, capture_output=True, check=True).stdout)
    return a


def pump_db(path, settle_s=10.0, rate=48000):
    """Largest peak-to-peak of the 10 ms RMS envelope (dB) within any 1 s after settle_s."""
    x = samples(path)
    n = 480
    env = []
    for i in range(int(settle_s * rate), len(x) - n, n):
        s = sum(v * v for v in x[i:i + n]) / n
        env.append(10 * math.log10(s) if s > 1e-20 else -200.0)
    worst = 0.0
    for j in range(0, len(env) - 100 + 1, 50):
        w = env[j:j + 100]
        worst = max(worst, max(w) - min(w))
    return worst


def gated(ms_values):
    """BS.1770 gated energy mean of momentary loudness values."""
    v = [m for m in ms_values if m > -70]
    if not v:
        return None
    mean = 10 * math.log10(sum(10 ** (m / 10) for m in v) / len(v))
    v = [m for m in v if m > mean - 10]
    return 10 * math.log10(sum(10 ** (m / 10) for m in v) / len(v))


def in_range(series, a, b):
    """Momentary values whose 400 ms window lies inside [a, b]."""
    return [m for t, m in series if t - 0.4 >= a - 1e-6 and t <= b + 1e-6]


# --- one render ----------------------------------------------------------------------------


def run_one(args, pname, overrides, mname, mpath, facts, cache_in):
    out = os.path.join(args.out, "renders", f"{pname}--{mname}.wav")
    prof = os.path.join(args.out, "profiles", pname + ".toml")
    r = subprocess.run(
        [args.headroom, "render", "-q", "--profile", prof, mpath, out],
        capture_output=True, text=True,
    )
    row = {"profile": pname, "material": mname, "fails": [], "notes": []}
    if r.returncode != 0 or "panick" in r.stderr:
        row["fails"].append(f"render failed ({r.returncode}): {r.stderr.strip()[-300:]}")
        return row
    p = params_of(overrides)
    target, ceiling = p["agc.target_lufs"], p["limiter.ceiling_dbtp"]
    fo = ffmeasure(out)
    fi = cache_in[mname]
    ha = hr_analyze(args.headroom, out)
    row.update(I_in=fi["I"], I=fo["I"], TP=fo["TP"], TP_hr=ha.get("true_peak_dbtp"),
               I_hr=ha.get("integrated_lufs"))
    if "error" in fo or "error" in ha:
        row["fails"].append(f"measuring failed: {fo.get('error') or ha.get('error')}")
        return row
    if fo["bad"]:
        row["fails"].append(f"{fo['bad']:.0f} NaN/Inf samples")
    if p["limiter.enabled"] and fi["peak"] is not None:
        for meter, tp in (("ffmpeg", fo["TP"]), ("analyze", ha.get("true_peak_dbtp"))):
            if tp is not None and tp > ceiling + TP_TOL_DB:
                row["fails"].append(f"true peak {tp:.2f} dBTP ({meter}) over ceiling {ceiling}")
    if facts.get("silence"):
        if fo["peak"] is not None and fo["peak"] > -200:
            row["fails"].append(f"silence in, peak {fo['peak']:.1f} dBFS out")
    if facts.get("steady") and not facts.get("silence"):
        pp = pump_db(out)
        row["pump_db"] = round(pp, 2)
        if pp > PUMP_DB:
            row["fails"].append(f"steady sine pumps: 10 ms envelope {pp:.2f} dB p-p within 1 s")
    if facts.get("noise") and p["agc.enabled"] and fi["I"] is not None and fo["I"] is not None:
        lift = fo["I"] - fi["I"]
        if lift > STEADY_BOOST_DB:
            row["fails"].append(f"noise on its own lifted {lift:.1f} dB")
    # integrated vs target, programme material of the eval (sections with a design level)
    if facts.get("sections") and p["agc.enabled"] and pname not in NOT_JUDGED:
        secs = [s for s in facts["sections"] if s["programme"]]
        reach = all(target - p["agc.max_boost_db"] <= s["input_lufs"] <= target + p["agc.max_cut_db"]
                    for s in secs)
        if reach and fo["I"] is not None and target < ceiling - 8:
            if abs(fo["I"] - target) > facts.get("i_tol", 2.0):
                row["fails"].append(f"integrated {fo['I']:.1f} LUFS, target {target}")
        elif fo["I"] is not None:
            row["notes"].append(f"I-T {fo['I'] - target:+.1f} (not judged: out of reach or "
                                f"target within 8 dB of the ceiling)")
    elif pname in NOT_JUDGED and fo["I"] is not None and facts.get("sections"):
        row["notes"].append(f"I-T {fo['I'] - target:+.1f} (not judged: {NOT_JUDGED[pname]})")
    # silence segments stay silent
    for seg in facts.get("segments", []):
        if seg["kind"] == "silence" and seg["end"] - seg["start"] > 0.1:
            pk = max((abs(v) for v in samples(out, seg["start"] + 0.02,
                                               seg["end"] - seg["start"] - 0.04)), default=0)
            if pk > 0:
                row["fails"].append(f"silence at {seg['start']:.1f}s comes out at "
                                    f"{20 * math.log10(pk):.1f} dBFS")
    # noise in pauses not lifted beyond the speech before it
    if p["agc.enabled"]:
        segs = facts.get("segments", [])
        for k, seg in enumerate(segs):
            if seg["kind"] != "noise" or k == 0 or segs[k - 1]["kind"] != "speech":
                continue
            prev = segs[k - 1]
            a, b = max(prev["start"], prev["end"] - 3.0), prev["end"]
            g_in, g_out = gated(in_range(fi["M"], a, b)), gated(in_range(fo["M"], a, b))
            n_in = in_range(fi["M"], seg["start"] + 0.1, seg["end"])
            n_out = in_range(fo["M"], seg["start"] + 0.1, seg["end"])
            if None in (g_in, g_out) or not n_in:
                continue
            # the gain levelling that speech asks for (the compressor and limiter may take
            # some of it back from the speech, never from the quieter noise: with a
            # compressor working hard the noise "breathes" by what it takes)
            wanted = min(p["agc.max_boost_db"], max(-p["agc.max_cut_db"], target - g_in))
            pause_gain = max(o - i for o, i in zip(n_out, n_in))
            gap_in, gap_out = g_in - max(n_in), g_out - max(n_out)
            if max(n_out) <= -70:
                continue
            if gap_in >= 20 and gap_out < NOISE_GAP_LU:
                row["fails"].append(
                    f"noise in pause at {seg['start']:.1f}s {gap_out:.1f} LU under the speech "
                    f"before it (input {gap_in:.1f} LU): lifted {pause_gain:+.1f} dB, the "
                    f"speech asks for {wanted:+.1f} dB")
            elif pause_gain > max(wanted, g_out - g_in) + PAUSE_EXTRA_DB:
                row["notes"].append(
                    f"pause {seg['start']:.1f}s: noise lifted {pause_gain:+.1f} dB, speech "
                    f"asks {wanted:+.1f}, gap {gap_in:.0f}->{gap_out:.0f} LU")
    if not args.keep:
        os.remove(out)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--headroom", default=os.path.join(ROOT, "target", "release", "headroom"))
    ap.add_argument("--programmes", default=os.path.join(ROOT, "target", "eval", "programmes"))
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "sweep"))
    ap.add_argument("--only", help="profiles, comma-separated")
    ap.add_argument("--material", help="material, comma-separated")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the rendered files")
    args = ap.parse_args()
    if not shutil.which("ffmpeg"):
        raise SystemExit("profile-sweep: ffmpeg is needed (apt-get install ffmpeg)")
    for sub in ("profiles", "renders"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)

    profiles = PROFILES
    if args.only:
        profiles = {k: PROFILES[k] for k in args.only.split(",")}
    for name, ov in profiles.items():
        write_profile(os.path.join(args.out, "profiles", name + ".toml"), name, ov)

    material = {k: v for k, v in make_synthetic(os.path.join(args.out, "synthetic")).items()}
    if os.path.isdir(args.programmes):
        for f in sorted(os.listdir(args.programmes)):
            if f.endswith(".wav") and os.path.exists(os.path.join(args.programmes, f[:-4] + ".json")):
                with open(os.path.join(args.programmes, f[:-4] + ".json")) as j:
                    meta = json.load(j)
                material[f[:-4]] = (os.path.join(args.programmes, f),
                                    {"sections": meta["sections"], "segments": meta["segments"]})
    else:
        print(f"profile-sweep: no programmes in {args.programmes} (run `make eval`); "
              "synthetic signals only", file=sys.stderr)
    if args.material:
        material = {k: material[k] for k in args.material.split(",")}

    cache_in = {m: ffmeasure(path) for m, (path, _) in material.items()}
    jobs = [(p, ov, m, path, facts) for p, ov in profiles.items()
            for m, (path, facts) in material.items()]
    failed = 0
    known = 0
    rows = []
    for msg in check_invalid(args, next(iter(material.values()))[0]):
        failed += 1
        print(f"  FAIL invalid value not refused clearly: {msg}")
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run_one, args, p, ov, m, path, facts, cache_in)
                for p, ov, m, path, facts in jobs]
        for fut in futs:
            row = fut.result()
            rows.append(row)
            def f(v):
                return "   -  " if v is None else f"{v:6.1f}"
            print(f"{row['profile']:18} {row['material']:13} I {f(row.get('I_in'))} ->"
                  f"{f(row.get('I'))}  TP {f(row.get('TP'))} / {f(row.get('TP_hr'))}"
                  + (f"  pump {row['pump_db']:.2f}" if "pump_db" in row else "")
                  + "".join(f"  [{n}]" for n in row["notes"]), flush=True)
            for msg in row["fails"]:
                doc, check = DOCUMENTED.get(row["profile"], {}), msg.split(" ")[0]
                why = doc.get(f"{check}@{row['material']}") or doc.get(check)
                if why:
                    known += 1
                    print(f"  KNOWN {row['profile']} {row['material']}: {msg} ({why})",
                          flush=True)
                else:
                    failed += 1
                    print(f"  FAIL {row['profile']} {row['material']}: {msg}", flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"{len(rows)} renders, {failed} failed checks, {known} known (documented) ones; "
          f"results in {args.out}/results.json")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
