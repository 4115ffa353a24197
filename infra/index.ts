/**
 * lifeboat as a construct library: `import { Lifeboat } from 'lifeboat'`. Everything a team needs to put lifeboat
 * into its own CDK app, and to read, check and write plans; the rest of the package is the CLI and the step
 * functions' pre-built bundles.
 */

export {
  FailoverInProgressError,
  InputInvalidError,
  LifeboatError,
  PlanInvalidError,
  ResourceMissingError,
} from '../functions/lib/errors.js';
export {
  type Engine,
  type ExecutionInput,
  type FailoverPlan,
  type Mode,
  type PlanDocument,
  PlanSchema,
  parseExecutionInput,
  parsePlan,
  type UnitPlan,
} from '../functions/lib/plan.js';
export { AlarmForwarderStack, type AlarmForwarderStackProps } from './alarm-forwarder-stack.js';
export {
  type GeneratedCredential,
  ReplicaKey,
  type ReplicaRegion,
  ReplicatedSecret,
  type ReplicatedSecretProps,
} from './constructs/replicated-secret.js';
export { SecretReplicator, type SecretReplicatorProps } from './constructs/secret-replicator.js';
export { VaultSync, type VaultSyncProps } from './constructs/vault-sync.js';
export { Lifeboat, type LifeboatProps } from './lifeboat.js';
export { addLifeboatStacks, type LifeboatStacks, stackName } from './lifeboat-app.js';
export { LifeboatStack, type LifeboatStackProps } from './lifeboat-stack.js';
export {
  type OperatorJob,
  OperatorPolicies,
  type OperatorPoliciesProps,
  type OperatorPolicyTarget,
  operatorPolicyDocuments,
} from './operator-policies.js';
export { isYamlPath, loadPlanFile, readPlanDocument } from './plan-file.js';
export { planJsonSchema } from './plan-schema.js';
