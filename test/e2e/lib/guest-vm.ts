// The VM of the end-to-end tests: test/support/vm.ts's TCG guest, booted with the kernel
// arguments a TCG guest needs to survive live migration.
//
// Why (evidence in docs/guest-agent.md, "TCG and live migration"): QEMU's TCG tracks guest
// writes for migration through its software TLB: an entry made while the page was dirty lets
// later writes through without marking the page again, and migration's bitmap sync clears the
// dirty bits without dropping those entries. Pages the guest keeps hot in the TLB (scheduler,
// per-CPU data, stacks) can then reach the destination stale, and the guest kernel oopses there
// (seen: a jump into per-CPU data right after the switch-over, NULL dereferences in pipe_read).
// With page-table isolation the kernel switches CR3 on every entry from and exit to user mode,
// and TCG (no PCID) flushes its whole TLB on every CR3 write, so entries live much shorter: this
// narrows the window (an interrupt taken in the kernel switches no CR3). KVM tracks dirty pages
// in hardware and needs none of this.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainXml, testVm, type TestVm, type VmSpec } from '../../support/vm.js';

/** Extra kernel arguments (VMANAGE_E2E_KERNEL_ARGS overrides them, '' for none). */
export const kernelArgs = process.env.VMANAGE_E2E_KERNEL_ARGS ?? 'pti=on nopcid';

export function e2eVm(spec: VmSpec): TestVm {
  const vm = testVm(spec);
  return {
    ...vm,
    async start(host) {
      const file = join(host.dir, `${spec.name}.xml`);
      const xml = domainXml(spec, vm.paths(host));
      if (!xml.includes('<cmdline>console=ttyS0')) throw new Error('unexpected domain XML: no <cmdline>console=ttyS0');
      await writeFile(file, kernelArgs ? xml.replace('<cmdline>console=ttyS0', `<cmdline>console=ttyS0 ${kernelArgs}`) : xml);
      await host.virsh('define', file);
      await host.virsh('start', spec.name);
    },
  };
}
