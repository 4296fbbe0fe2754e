// Small statistics helpers for the bench (nearest-rank percentiles).

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

export function summary(values: readonly number[]): { n: number; p50: number; p90: number; max: number; min: number } {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    max: values.length ? Math.max(...values) : NaN,
    min: values.length ? Math.min(...values) : NaN,
  };
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

export function fmt(s: ReturnType<typeof summary>, unit = "ms"): string {
  return `p50 ${round(s.p50)} ${unit}, p90 ${round(s.p90)} ${unit}, max ${round(s.max)} ${unit}, min ${round(s.min)} ${unit} (n=${s.n})`;
}
