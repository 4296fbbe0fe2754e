// The command library's apt steps as exact shell text, for the packages' exact-string tests.
import { quote } from "../../activities/ssh/shell";
import { APT_UPDATE, APT_UPDATE_STAMP, DPKG_REPAIR } from "./apt";

const APT = "env 'DEBIAN_FRONTEND=noninteractive' apt-get -o 'DPkg::Lock::Timeout=120'";
export const SH_APT_UPDATE = `sh -c ${quote(APT_UPDATE)} sh 3600 ${APT_UPDATE_STAMP}`;
export const SH_DPKG_REPAIR = `sh -c ${quote(DPKG_REPAIR)} sh`;
export const shAptInstall = (...packages: string[]) => [
  SH_DPKG_REPAIR,
  `${APT} -o 'Dpkg::Options::=--force-confold' -o 'Dpkg::Options::=--force-confdef' install -y ${packages.join(" ")}`,
];
export const shAptPurge = (...packages: string[]) => [SH_DPKG_REPAIR, `${APT} purge -y ${packages.join(" ")}`];
