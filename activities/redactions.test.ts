// What the runner keeps out of stored output: secrets, and each value of a secret .env file.
import { describe, expect, it } from "vitest";
import { redactionsOf } from "./plans";

describe("redactionsOf", () => {
  it("redacts each secret, and each long-enough value of a KEY=VALUE file on its own", () => {
    const env = [
      'APP_KEY="base64:abcdefgh"',
      "DB_PASSWORD=s3cr3t-pass",
      "export TOKEN='tok-123456'",
      "APP_DEBUG=true",
      "# comment=ignored-really",
      "",
    ].join("\n");
    const got = redactionsOf({ secrets: { "redis.password": "r3dis-pass-word", "site.env_c1": env } });
    expect(got).toEqual(
      expect.arrayContaining([env, "r3dis-pass-word", '"base64:abcdefgh"', "base64:abcdefgh", "s3cr3t-pass", "'tok-123456'", "tok-123456"]),
    );
    expect(got).not.toContain("true");
    expect(got).not.toContain("ignored-really");
    // Longest first: a value containing another is replaced whole.
    expect(got[0]).toBe(env);
    expect([...got].sort((a, b) => b.length - a.length)).toEqual(got);
  });

  it("an empty .env redacts nothing", () => {
    expect(redactionsOf({ secrets: { "site.env_c1": "" } })).toEqual([]);
  });
});
