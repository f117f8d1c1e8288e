"""keep_freed_memory: glibc keeps freed feature maps mapped for reuse."""
import os
import platform
import subprocess
import sys

import pytest


FREE_30MB = '''
import os, sys
import torch
def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
kept = None
if sys.argv[1] == 'keep':
    from posekit.malloc import keep_freed_memory
    kept = keep_freed_memory()
x = torch.ones(30 * 2**20 // 4)   # 30 MB, every page touched
before = rss_mb()
del x
print(kept, before - rss_mb())
'''


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='glibc only')
def test_keep_freed_memory_keeps_a_freed_feature_map_mapped():
    """glibc's documented behaviour: by default a 30 MB block is mmap'ed and
    unmapped on free (resident memory drops by 30 MB); after
    keep_freed_memory() it comes from the heap and stays for reuse. With
    malloc tunables in the environment the user's choice is left alone."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith('MALLOC_') or k == 'GLIBC_TUNABLES')}

    def run(mode, **extra):
        out = subprocess.run([sys.executable, '-c', FREE_30MB, mode], env=dict(env, **extra),
                             capture_output=True, text=True, check=True).stdout.split()
        return out[0], float(out[1])

    assert run('default') == ('None', pytest.approx(30, abs=1))
    kept, dropped = run('keep')
    assert kept == 'True' and abs(dropped) < 1
    kept, dropped = run('keep', MALLOC_TRIM_THRESHOLD_='131072')   # glibc's default
    assert kept == 'False' and dropped == pytest.approx(30, abs=1)
