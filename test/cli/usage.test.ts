import { describe, expect, it } from 'vitest';
import { Printer } from '../../cli/io.js';
import { run } from '../../cli/lifeboat.js';
import { captureIo } from './support.js';

describe('lifeboat usage', () => {
  it('lists the commands, with exit 2 when none is given and 0 for --help', async () => {
    // Prepare
    const none = captureIo();
    const asked = captureIo();

    // Act
    const noneCode = await run([], none.io);
    const askedCode = await run(['--help'], asked.io);

    // Assess
    expect(noneCode).toBe(2);
    expect(askedCode).toBe(0);
    for (const command of ['plan', 'start', 'watch', 'report', 'drill']) {
      expect(asked.stdout()).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
    }
    expect(asked.stdout()).toContain('exit codes:');
  });

  it('refuses an unknown command, naming it', async () => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run(['failover'], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('unknown command "failover"');
  });

  it.each(['plan', 'start', 'watch', 'report'])(
    '%s --help shows its options and exit codes',
    async (command) => {
      // Prepare
      const cli = captureIo();

      // Act
      const code = await run([command, '--help'], cli.io);

      // Assess
      expect(code).toBe(0);
      expect(cli.stdout()).toContain(`usage: lifeboat ${command}`);
      expect(cli.stdout()).toContain('exit codes');
      expect(cli.stdout()).toContain('-h, --help');
    },
  );

  it.each(['plan', 'watch', 'report'])('%s refuses an unknown option, naming it', async (command) => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run([command, '--colour'], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain(
      `lifeboat ${command}: unknown option --colour (see lifeboat ${command} --help)`,
    );
  });
});

describe('lifeboat drill', () => {
  it('hands every argument to the local drill command and returns its exit code', async () => {
    // Prepare
    const seen: string[][] = [];
    const cli = captureIo({
      importDrill: async () => ({
        main: async (argv: string[]) => {
          seen.push(argv);
          return 7;
        },
      }),
    });

    // Act
    const code = await run(['drill', '--plan', 'examples/plan.json', '--keep', '--help'], cli.io);

    // Assess
    expect(code).toBe(7);
    expect(seen).toEqual([['--plan', 'examples/plan.json', '--keep', '--help']]);
  });

  it('says clearly when the local drill is not there, as in the installed package (exit 3)', async () => {
    // Prepare: a real import of a file that is not there.
    const absent = './no-such-drill-command.js';
    const cli = captureIo({ importDrill: () => import(absent) });
    const incomplete = captureIo({ importDrill: async () => ({ somethingElse: true }) });

    // Act
    const code = await run(['drill'], cli.io);
    const incompleteCode = await run(['drill'], incomplete.io);

    // Assess
    expect(code).toBe(3);
    expect(cli.stderr()).toContain('the local drill is not here');
    expect(cli.stderr()).toContain('runs from a checkout of the lifeboat repository');
    expect(incompleteCode).toBe(3);
    expect(incomplete.stderr()).toContain('does not export main(argv)');
  });

  it('loads local/drill-command by default', async () => {
    // Prepare: the real loader, its module replaced by nothing but a check that it is the drill command.
    const { defaultIo } = await import('../../cli/io.js');

    // Act
    const module = (await defaultIo().importDrill()) as { main?: unknown };

    // Assess
    expect(typeof module.main).toBe('function');
  });
});

describe('Printer', () => {
  it('colours only a terminal, and never with NO_COLOR', () => {
    // Prepare
    const make = (isTTY: boolean, env: Record<string, string> = {}) => {
      let text = '';
      const printer = new Printer({
        stdout: { write: (t: string) => (text += t), isTTY },
        stderr: { write: () => 0 },
        env,
      });
      printer.line(printer.red('FAILED'));
      return text;
    };

    // Act
    const terminal = make(true);
    const pipe = make(false);
    const noColour = make(true, { NO_COLOR: '1' });

    // Assess
    expect(terminal).toBe('\x1b[31mFAILED\x1b[39m\n');
    expect(pipe).toBe('FAILED\n');
    expect(noColour).toBe('FAILED\n');
  });
});
