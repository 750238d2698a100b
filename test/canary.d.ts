/** Types of test/canary.js (the secret canary; see there). */
export interface CanaryHit {
	where?: string;
	secret: string;
	form: string;
	excerpt: string;
}
export function registerSecret(secret: string | undefined | null): void;
export function record(where: string, text: unknown): void;
export function scanNow(where: string, text: string | Buffer | unknown): CanaryHit[];
export function findSecrets(text: string, secrets: string[]): CanaryHit[];
export function safeJson(value: unknown): string;
export function mask(secret: string): string;
export const MIN_SECRET: number;
