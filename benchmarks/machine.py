"""What machine a benchmark ran on, for the figures it prints beside each other."""

from __future__ import annotations

import platform

#: /proc/cpuinfo flags that decide which kernels torch and oneDNN run, in the order printed
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_name() -> str:
    """The CPU's model name with its family/model numbers and the vector-instruction flags that set torch's path,
    e.g. "AMD EPYC (family 23, model 49; avx2 fma; no avx512f avx512_bf16 amx_bf16)", from /proc/cpuinfo
    where there is one (the model name alone often hides the generation: a VM may say only "AMD EPYC")."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "flags") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:  # the first processor's block is enough
                    break
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    have = " ".join(f for f in ISA_FLAGS if f in flags)
    lack = " ".join(f for f in ISA_FLAGS if f not in flags)
    isa = "; ".join(p for p in (have, f"no {lack}" if lack else "") if p)
    return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}; {isa})"
