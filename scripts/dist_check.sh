#!/usr/bin/env bash
# Check the release artefacts: the wheel installs in a clean venv with the core dependencies only, the algorithm
# trains, the tools stop with one line naming their extra, and wheel and sdist carry the zoo configs.
# Usage: scripts/dist_check.sh DIST_DIR [TORCH_SPEC]
set -euo pipefail
dist=$(cd "$1" && pwd)
torch_spec=${2:-torch==2.13.0}
wheel=$(ls "$dist"/sb3_reinforce-*.whl)
sdist=$(ls "$dist"/sb3_reinforce-*.tar.gz)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unzip -l "$wheel" | grep -q "sb3_reinforce/zoo_configs/reinforce.yml" || { echo "wheel lacks the zoo configs"; exit 1; }
tar tzf "$sdist" | grep -q "zoo_configs/reinforce.yml" || { echo "sdist lacks the zoo configs"; exit 1; }

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$torch_spec"
"$work/venv/bin/python" -m pip install -q "$wheel"
cd "$work"  # away from the checkout: the installed package is what runs
for module in rl_zoo3 optuna wandb pandas matplotlib scipy; do
  if "$work/venv/bin/python" -c "import $module" 2>/dev/null; then echo "core install pulled $module"; exit 1; fi
done
"$work/venv/bin/python" - <<'PY'
import sb3_reinforce
from sb3_reinforce import REINFORCE
model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, seed=0).learn(500)
print(f"sb3_reinforce {sb3_reinforce.__version__}: REINFORCE trained {model.num_timesteps} steps with the core install")
PY
for command in "-m sb3_reinforce.train --env CartPole-v1" "-m sb3_reinforce.compare" "-m sb3_reinforce.bench"; do
  set +e
  output=$("$work/venv/bin/python" $command 2>&1)
  code=$?
  set -e
  if [ $code -eq 0 ] || [ "$(printf '%s\n' "$output" | wc -l)" -ne 1 ] || ! grep -q 'pip install "sb3-reinforce\[' <<<"$output"; then
    echo "python $command without its extra: exit $code, output:"; echo "$output"; exit 1
  fi
  echo "python $command -> $output"
done
echo "dist-check passed: $(basename "$wheel") $(basename "$sdist")"
