import { describe, expect, it } from "vitest";
import { commitUrl } from "./git-hosts";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("commitUrl", () => {
  it("links a commit on github.com, gitlab.com and bitbucket.org from their SSH addresses", () => {
    expect(commitUrl("git@github.com:acme/shop.git", SHA)).toBe(`https://github.com/acme/shop/commit/${SHA}`);
    expect(commitUrl("git@github.com:acme/shop", SHA)).toBe(`https://github.com/acme/shop/commit/${SHA}`);
    expect(commitUrl("ssh://git@github.com/acme/shop.git", SHA)).toBe(`https://github.com/acme/shop/commit/${SHA}`);
    expect(commitUrl("ssh://git@github.com:22/acme/shop.git", SHA)).toBe(`https://github.com/acme/shop/commit/${SHA}`);
    expect(commitUrl("git@GitHub.com:Acme/Shop.Site.git", SHA)).toBe(`https://github.com/Acme/Shop.Site/commit/${SHA}`);
    expect(commitUrl("git@gitlab.com:acme/shop.git", SHA)).toBe(`https://gitlab.com/acme/shop/-/commit/${SHA}`);
    expect(commitUrl("git@gitlab.com:acme/web/shop.git", SHA)).toBe(`https://gitlab.com/acme/web/shop/-/commit/${SHA}`);
    expect(commitUrl("git@bitbucket.org:acme/shop.git", SHA)).toBe(`https://bitbucket.org/acme/shop/commits/${SHA}`);
  });

  it("a short sha is linked as given", () => {
    expect(commitUrl("git@github.com:acme/shop.git", "0123456")).toBe("https://github.com/acme/shop/commit/0123456");
  });

  it("gives no link for other hosts, odd paths, or something that is not a commit id", () => {
    expect(commitUrl("git@git.example.com:acme/shop.git", SHA)).toBeNull();
    expect(commitUrl("ssh://git@10.0.2.2:2222/srv/git/app.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com.evil.test:acme/shop.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com:shop.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com:acme/shop/extra.git", SHA)).toBeNull();
    expect(commitUrl("git@bitbucket.org:acme/team/shop.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com:acme/../shop.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com:/acme/shop.git", SHA)).toBeNull();
    expect(commitUrl("https://github.com/acme/shop.git", SHA)).toBeNull();
    expect(commitUrl("git@github.com:acme/shop.git", "main")).toBeNull();
    expect(commitUrl("git@github.com:acme/shop.git", "abc")).toBeNull();
    expect(commitUrl("git@github.com:acme/shop.git", null)).toBeNull();
    expect(commitUrl(null, SHA)).toBeNull();
  });
});
