import os

import torch as th

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
th.set_num_threads(1)
