import { type Duration, Token } from 'aws-cdk-lib';

/**
 * Collects every problem with a construct's props, then throws once: the user fixes them all in one round
 * (AWS Solutions Constructs' habit), and each message names the prop.
 */
export class PropsProblems {
  private readonly problems: string[] = [];

  constructor(private readonly construct: string) {}

  add(prop: string, message: string): void {
    this.problems.push(`${prop}: ${message}`);
  }

  /** A duration in whole seconds within [min, max]; tokens are left to CloudFormation. */
  duration(prop: string, value: Duration | undefined, min: Duration, max: Duration): void {
    if (value === undefined || Token.isUnresolved(value.toSeconds())) return;
    const seconds = value.toSeconds();
    if (seconds < min.toSeconds() || seconds > max.toSeconds()) {
      this.add(
        prop,
        `must be between ${min.toHumanString()} and ${max.toHumanString()}, got ${value.toHumanString()}`,
      );
    }
  }

  integer(prop: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(prop, `must be an integer between ${min} and ${max}, got ${value}`);
    }
  }

  /** Throws a TypeError listing every problem, if there is any. */
  check(): void {
    if (this.problems.length === 0) return;
    throw new TypeError(`${this.construct} props are invalid:\n  - ${this.problems.join('\n  - ')}`);
  }
}
