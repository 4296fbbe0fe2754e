// Which OS BrokeForge provisions, and what a user reads when theirs is not one of them.
import { describe, expect, it } from "vitest";
import { supportedOs } from "./os";

const SUPPORTED = "Supported: Debian 12 and 13, Ubuntu 22.04 and 24.04.";

describe("supportedOs", () => {
  it.each([
    ["debian", "12", "Debian 12 (bookworm)"],
    ["debian", "13", "Debian 13 (trixie)"],
    ["ubuntu", "22.04", "Ubuntu 22.04 (jammy)"],
    ["ubuntu", "24.04", "Ubuntu 24.04 (noble)"],
  ])("supports %s %s as “%s”", (osId, osRelease, label) => {
    expect(supportedOs({ osId, osRelease })).toEqual({ supported: true, label });
  });

  it("reads os-release values as written, whatever their case or stray spaces", () => {
    expect(supportedOs({ osId: " Debian ", osRelease: "12 " })).toEqual({ supported: true, label: "Debian 12 (bookworm)" });
  });

  it.each([
    [{ osId: "debian", osRelease: "11" }, `This server runs Debian 11, which BrokeForge does not support. ${SUPPORTED}`],
    [{ osId: "debian", osRelease: "12.5" }, `This server runs Debian 12.5, which BrokeForge does not support. ${SUPPORTED}`],
    [{ osId: "ubuntu", osRelease: "23.10" }, `This server runs Ubuntu 23.10, which BrokeForge does not support. ${SUPPORTED}`],
    [
      { osId: "debian", osRelease: null },
      `This server runs Debian without a release number (a testing or rolling release), which BrokeForge does not support. ${SUPPORTED}`,
    ],
    [
      { osId: "fedora", osRelease: "40", osName: "Fedora Linux" },
      `This server runs Fedora Linux 40, which BrokeForge does not support. ${SUPPORTED}`,
    ],
    [{ osId: "alpine", osRelease: "3.20.1" }, `This server runs alpine 3.20.1, which BrokeForge does not support. ${SUPPORTED}`],
  ])("refuses %j, naming what it found and what is supported", (facts, message) => {
    expect(supportedOs(facts)).toEqual({ supported: false, message });
  });

  it("asks for a connection test while the OS is not known", () => {
    expect(supportedOs({ osId: null, osRelease: null })).toEqual({
      supported: false,
      message: "BrokeForge has not read this server's operating system yet: test the connection.",
    });
  });
});
