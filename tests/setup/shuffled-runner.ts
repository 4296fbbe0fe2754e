// The unit and integration tiers run the tests inside each file in a random order, to prove
// that every test makes its own user and data (vitest.config.ts). vitest 3.2 takes
// `sequence.shuffle` from the root config only (a project's own is dropped: vitest-dev/vitest
// #9645, fixed in a later major), so those projects name this runner, which is vitest's own
// with test shuffling switched on. The order comes from the run's seed, which vitest prints
// ("Running tests with seed …"); `--sequence.seed=<n>` replays it. A scenario whose tests are
// steps of one story opts out with `describe(..., { shuffle: false }, ...)` and says why.
import { VitestTestRunner } from "vitest/runners";

type Config = ConstructorParameters<typeof VitestTestRunner>[0];

export default class ShuffledTestRunner extends VitestTestRunner {
  constructor(config: Config) {
    super({ ...config, sequence: { ...config.sequence, shuffle: true } });
  }
}
